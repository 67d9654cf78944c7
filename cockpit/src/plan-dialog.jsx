import { useEffect, useState } from "react";
import { Alert, Button, Modal, ModalBody, ModalFooter, ModalHeader } from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { call, explain } from "./gvtd.js";

/** What the next pass would do, and why (Plan and PlanFunctions): nothing is changed by asking. */
export function PlanDialog({ close }) {
    const [rows, setRows] = useState(null);
    const [error, setError] = useState(null);
    useEffect(() => {
        Promise.all([call("Plan", "", []), call("PlanFunctions", "", [])])
            .then(([[vgpus], [functions]]) => setRows([
                ...vgpus.map(([kind, uuid, type, parent, reason]) => ({ kind, what: `${uuid} (${type} on ${parent})`, reason })),
                ...functions.map(([kind, address, reason]) => ({ kind, what: `SR-IOV PF ${address}`, reason })),
            ]))
            .catch(e => setError(explain(e)));
    }, []);
    return (
        <Modal id="plan-dialog" isOpen variant="large" onClose={close} aria-labelledby="plan-title">
            <ModalHeader title="What the next pass would do" labelId="plan-title" />
            <ModalBody>
                {error && <Alert isInline variant="danger" title="Cannot read the plan">{error}</Alert>}
                {rows && (rows.length === 0 ? "Nothing declared and nothing present: nothing to do." : (
                    <Table aria-label="Plan" variant="compact">
                        <Thead><Tr><Th>Action</Th><Th>Device</Th><Th>Why</Th></Tr></Thead>
                        <Tbody>{rows.map((r, i) => <Tr key={i}><Td>{r.kind}</Td><Td>{r.what}</Td><Td>{r.reason}</Td></Tr>)}</Tbody>
                    </Table>))}
            </ModalBody>
            <ModalFooter><Button variant="primary" onClick={close}>Close</Button></ModalFooter>
        </Modal>);
}
