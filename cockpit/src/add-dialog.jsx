import { useEffect, useState } from "react";
import {
    Alert, Button, Checkbox, Form, FormGroup, FormSelect, FormSelectOption, Modal, ModalBody, ModalFooter, ModalHeader, TextInput,
} from "@patternfly/react-core";
import { call, explain } from "./gvtd.js";
import { sharesPool } from "./parents.jsx";

const newUuid = () => window.crypto?.randomUUID?.()
    ?? "10000000-1000-4000-8000-100000000000".replace(/[018]/g, c => (c ^ (Math.random() * 16 >> c / 4)).toString(16));

/**
 * Add a vGPU: a type the chosen parent offers (with how many can still be made), a new UUID, and
 * before anything is written, gvtd's own plan of the change (PreviewAddVGpu): Add is offered only
 * when that plan creates it.
 */
export function AddDialog({ parents, act, close }) {
    const [parent, setParent] = useState(parents[0]?.Name ?? "");
    const offered = parents.find(p => p.Name === parent)?.Types ?? [];
    const [type, setType] = useState(offered.find(t => t.available > 0)?.id ?? "");
    const [uuid] = useState(newUuid);
    const [runtime, setRuntime] = useState(false);
    const [preview, setPreview] = useState(null);

    useEffect(() => {
        setPreview(null);
        if (!type) return;
        let current = true;
        call("PreviewAddVGpu", "sss", [uuid, type, parent])
            .then(([rows]) => current && setPreview({ action: rows.find(r => r[1] === uuid), others: rows.filter(r => r[1] !== uuid && r[0] !== "keep" && r[0] !== "ignore") }))
            .catch(e => current && setPreview({ error: explain(e) }));
        return () => { current = false; };
    }, [uuid, type, parent]);

    const creates = preview?.action?.[0] === "create";
    const add = () => {
        close();
        act(`Add ${uuid}`, call("AddVGpu", "sssb", [uuid, type, parent, runtime]).then(([made]) => `Declared ${made} in gvtd's drop-in${runtime ? " (until reboot)" : ""}.`));
    };
    return (
        <Modal id="add-dialog" isOpen variant="medium" onClose={close} aria-labelledby="add-title">
            <ModalHeader title="Add a vGPU" labelId="add-title" />
            <ModalBody>
                <Form onSubmit={e => { e.preventDefault(); if (creates) add(); }}>
                    <FormGroup label="GPU" fieldId="add-parent">
                        <FormSelect id="add-parent" value={parent} onChange={(_, v) => { setParent(v); setType(parents.find(p => p.Name === v)?.Types.find(t => t.available > 0)?.id ?? ""); }}>
                            {parents.map(p => <FormSelectOption key={p.Name} value={p.Name} label={`${p.Name} (${p.Driver})`} />)}
                        </FormSelect>
                    </FormGroup>
                    <FormGroup label="Type" fieldId="add-type">
                        <FormSelect id="add-type" value={type} onChange={(_, v) => setType(v)}>
                            {offered.length === 0 && <FormSelectOption value="" label="this GPU offers no types" isDisabled />}
                            {offered.map(t => (
                                <FormSelectOption key={t.id} value={t.id} isDisabled={t.available === 0}
                                    label={`${t.id}: ${t.available} can still be created`} />))}
                        </FormSelect>
                    </FormGroup>
                    {sharesPool(parents.find(p => p.Name === parent) ?? {}) &&
                        <Alert isInline isPlain variant="info" title="These types share one pool: adding one lowers what is left of the others." />}
                    <FormGroup label="UUID" fieldId="add-uuid">
                        <TextInput id="add-uuid" value={uuid} readOnlyVariant="default" aria-label="UUID (new)" />
                    </FormGroup>
                    <Checkbox id="add-runtime" label="Only until the next reboot" isChecked={runtime} onChange={(_, v) => setRuntime(v)} />
                </Form>
                {preview?.error && <Alert id="add-preview" isInline variant="danger" title="gvtd would refuse this">{preview.error}</Alert>}
                {preview?.action && (
                    <Alert id="add-preview" isInline variant={creates ? "info" : "warning"} title={creates ? "gvtd's plan: create it" : `gvtd's plan: ${preview.action[0]}`}>
                        {preview.action[4]}
                        {preview.others.length > 0 && <ul>{preview.others.map(r => <li key={r[1]}>{r[0]} {r[1]}: {r[4]}</li>)}</ul>}
                    </Alert>)}
            </ModalBody>
            <ModalFooter>
                <Button id="add-confirm" variant="primary" isDisabled={!creates} onClick={add}>Add</Button>
                <Button variant="link" onClick={close}>Cancel</Button>
            </ModalFooter>
        </Modal>);
}
