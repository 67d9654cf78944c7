import { useEffect, useState } from "react";
import {
    Alert, Button, Card, CardBody, CardHeader, CardTitle, DescriptionList, DescriptionListDescription,
    DescriptionListGroup, DescriptionListTerm, Flex, PageSection, Stack, Title,
} from "@patternfly/react-core";
import { call, explain, follow, UNKNOWN } from "./gvtd.js";
import { Parents } from "./parents.jsx";
import { VGpus } from "./vgpus.jsx";
import { Functions } from "./functions.jsx";
import { AddDialog } from "./add-dialog.jsx";
import { PlanDialog } from "./plan-dialog.jsx";

/** Whether this user may change things: Cockpit's administrative access; polkit has the last word. */
function useAdmin() {
    const [allowed, setAllowed] = useState(null);
    useEffect(() => {
        const permission = window.cockpit.permission({ admin: true });
        const update = () => setAllowed(permission.allowed);
        permission.addEventListener("changed", update);
        update();
        return () => { permission.removeEventListener("changed", update); permission.close(); };
    }, []);
    return allowed;
}

export function App() {
    const [gvtd, setGvtd] = useState(UNKNOWN);
    const [notice, setNotice] = useState(null);
    const [dialog, setDialog] = useState(null);
    const admin = useAdmin();
    useEffect(() => follow(setGvtd), []);

    const act = (what, promise) => promise
        .then(result => setNotice({ variant: "success", title: what, text: result }))
        .catch(e => setNotice({ variant: "danger", title: `${what} failed`, text: explain(e) }));

    const reconcile = () => act("Reconcile", call("Reconcile", "", []).then(([created, removed, failed]) =>
        `Created ${created}, removed ${removed}, failed ${failed}.`));

    const readOnly = admin === false
        ? "You can see everything here, but changing vGPUs needs administrative access (turn it on in Cockpit's top bar, or ask an administrator)."
        : null;
    const canChange = gvtd.running === true && admin !== false;
    return (
        <>
            <PageSection>
                <Stack hasGutter>
                    <Flex justifyContent={{ default: "justifyContentSpaceBetween" }}>
                        <Title headingLevel="h1">Virtual GPUs</Title>
                        <Flex>
                            <Button id="plan" variant="secondary" isDisabled={gvtd.running !== true} onClick={() => setDialog("plan")}>Show plan</Button>
                            <Button id="reconcile" variant="secondary" isDisabled={!canChange} onClick={reconcile}>Reconcile now</Button>
                            <Button id="add" variant="primary" isDisabled={!canChange || gvtd.parents.length === 0} onClick={() => setDialog("add")}>Add vGPU</Button>
                        </Flex>
                    </Flex>
                    {readOnly && <Alert id="read-only" isInline variant="info" title="Read-only">{readOnly}</Alert>}
                    {notice && <Alert id="notice" isInline variant={notice.variant} title={notice.title}
                        actionClose={<Button variant="plain" aria-label="Close" onClick={() => setNotice(null)}>×</Button>}>{notice.text}</Alert>}
                    <Status gvtd={gvtd} />
                    {gvtd.running && <Parents parents={gvtd.parents} />}
                    {gvtd.running && <VGpus vgpus={gvtd.vgpus} parents={gvtd.parents} canChange={canChange} act={act} />}
                    {gvtd.running && (gvtd.pfs.length > 0) && <Functions pfs={gvtd.pfs} vfs={gvtd.vfs} />}
                </Stack>
            </PageSection>
            {dialog === "add" && <AddDialog parents={gvtd.parents} act={act} close={() => setDialog(null)} />}
            {dialog === "plan" && <PlanDialog close={() => setDialog(null)} />}
        </>
    );
}

function Status({ gvtd }) {
    if (gvtd.running === false)
        return (
            <Alert id="not-running" variant="danger" title="gvtd is not running">
                Nothing keeps the vGPUs in order until it runs again. Start it with <code>systemctl enable --now gvtd</code>
                {" "}(or from Services), and look at <code>journalctl -u gvtd</code> if it stopped by itself.
            </Alert>);
    if (gvtd.running === null || !gvtd.manager)
        return gvtd.error
            ? <Alert variant="warning" title="Cannot read gvtd's state">{gvtd.error}</Alert>
            : <Alert variant="info" isPlain title="Reading gvtd's state…" />;
    const m = gvtd.manager;
    const sleep = m.SleepState === "unavailable" ? "not followed (no systemd-logind)"
        : m.SleepState + (m.SetAside?.length ? `; set aside: ${m.SetAside.join(", ")}` : "") + (m.SleepInhibitor ? "; holding the sleep inhibitor" : "");
    return (
        <Card id="status">
            <CardHeader><CardTitle>gvtd {m.Version}: <span id="state">{m.State}</span></CardTitle></CardHeader>
            <CardBody>
                <DescriptionList isHorizontal isCompact>
                    <Row term="Status" id="status-text">{m.StatusText}</Row>
                    {m.AwaitedParents?.length > 0 && <Row term="Waiting for" id="awaited">{m.AwaitedParents.join(", ")}: their driver is not loaded; their vGPUs are made as soon as it is</Row>}
                    <Row term="Sleep" id="sleep">{m.Sleep}: {sleep}</Row>
                    <Row term="Desired-state files">{(m.ConfigFiles ?? []).join(", ") || "none"}</Row>
                </DescriptionList>
                {m.ConfigError && (
                    <Alert id="config-error" isInline variant="danger" title="The desired state is invalid; the last valid one stays in force">
                        <pre>{m.ConfigError}</pre>
                    </Alert>)}
            </CardBody>
        </Card>);
}

function Row({ term, id, children }) {
    return (
        <DescriptionListGroup>
            <DescriptionListTerm>{term}</DescriptionListTerm>
            <DescriptionListDescription id={id}>{children}</DescriptionListDescription>
        </DescriptionListGroup>);
}
