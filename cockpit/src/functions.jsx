import { Card, CardBody, CardTitle, ClipboardCopy, Label } from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";

/** SR-IOV physical functions, each with its virtual functions below it. */
export function Functions({ pfs, vfs }) {
    return (
        <Card id="sriov">
            <CardTitle>SR-IOV virtual functions</CardTitle>
            <CardBody>
                <Table aria-label="SR-IOV functions" variant="compact">
                    <Thead><Tr><Th>Function</Th><Th>Driver</Th><Th>State</Th><Th>In use</Th><Th>VFs / QEMU</Th></Tr></Thead>
                    {pfs.map(pf => (
                        <Tbody key={pf.Address} className="pf" data-address={pf.Address}>
                            <Tr>
                                <Td dataLabel="Function">{pf.Address}{pf.Name && <> ({pf.Name})</>}</Td>
                                <Td dataLabel="Driver">{pf.Driver || "no driver"}</Td>
                                <Td dataLabel="State"><Label className="state">{pf.State}</Label></Td>
                                <Td dataLabel="In use">{pf.InUse ? "yes" : "no"}</Td>
                                <Td dataLabel="VFs">{pf.NumVfs} of {pf.TotalVfs}{pf.Declared && <>, declared {pf.DesiredVfs} on {pf.VfDriver}</>}{pf.Source && <> ({pf.Source})</>}</Td>
                            </Tr>
                            {pf.LastError && <Tr><Td colSpan={5} className="last-error">{pf.LastError}</Td></Tr>}
                            {vfs.filter(vf => vf.PhysicalFunction === pf.Address).map(vf => (
                                <Tr key={vf.Address} className="vf">
                                    <Td dataLabel="Function">&nbsp;&nbsp;{vf.Address}</Td>
                                    <Td dataLabel="Driver">{vf.Driver || "none"}</Td>
                                    <Td dataLabel="State" className="vf-state">{vf.State}</Td>
                                    <Td dataLabel="In use">{vf.InUse ? "yes" : "no"}</Td>
                                    <Td dataLabel="QEMU"><ClipboardCopy isReadOnly isCode>{vf.QemuArgs}</ClipboardCopy></Td>
                                </Tr>))}
                        </Tbody>))}
                </Table>
            </CardBody>
        </Card>);
}
