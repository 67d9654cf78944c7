import { Card, CardBody, CardTitle, Content } from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";

/** GVT-g (i915) carves every type out of one pool: creating any lowers what is left of all of them. */
export const sharesPool = parent => parent.Driver === "i915";

export function Parents({ parents }) {
    return (
        <Card id="parents">
            <CardTitle>GPUs that host vGPUs</CardTitle>
            <CardBody>
                {parents.length === 0
                    ? <Content component="p">No mdev parent: is the GPU's driver loaded with GVT-g on (i915.enable_gvt=1)? <code>gvtctl doctor</code> checks.</Content>
                    : parents.map(p => (
                        <div key={p.Name} className="gvtd-parent">
                            <Content component="h3">{p.Name} ({p.Driver || "no driver"})</Content>
                            {sharesPool(p) && <Content component="p" className="shared-pool">These types share one pool of graphics memory: creating any of them lowers what is left of all.</Content>}
                            <Table aria-label={`Types of ${p.Name}`} variant="compact">
                                <Thead><Tr><Th>Type</Th><Th>Name</Th><Th>Can still be created</Th><Th>Description</Th></Tr></Thead>
                                <Tbody>
                                    {p.Types.map(t => (
                                        <Tr key={t.id}>
                                            <Td dataLabel="Type">{t.id}</Td>
                                            <Td dataLabel="Name">{t.name || "-"}</Td>
                                            <Td dataLabel="Can still be created" className="available">{t.available}</Td>
                                            <Td dataLabel="Description">{t.description.split("\n").filter(Boolean).join(", ")}</Td>
                                        </Tr>))}
                                </Tbody>
                            </Table>
                        </div>))}
            </CardBody>
        </Card>);
}
