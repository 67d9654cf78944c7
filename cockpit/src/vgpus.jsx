import { useState } from "react";
import { Button, Card, CardBody, CardTitle, ClipboardCopy, Content, Label } from "@patternfly/react-core";
import { ExpandableRowContent, Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { call, declaredIn } from "./gvtd.js";

const stateColor = { active: "green", pending: "blue", blocked: "orange", failed: "red", removing: "purple", undeclared: "grey" };

export function VGpus({ vgpus, canChange, act }) {
    const [open, setOpen] = useState({});
    return (
        <Card id="vgpus">
            <CardTitle>vGPUs</CardTitle>
            <CardBody>
                {vgpus.length === 0
                    ? <Content component="p">No vGPUs declared or present. Add one, or declare some in /etc/gvtd/vgpus.yaml.</Content>
                    : (
                        <Table aria-label="vGPUs" variant="compact">
                            <Thead><Tr><Th screenReaderText="Details" /><Th>UUID</Th><Th>Type</Th><Th>Parent</Th><Th>State</Th><Th>In use</Th><Th>Declared</Th><Th>Created by</Th><Th screenReaderText="Actions" /></Tr></Thead>
                            {vgpus.map((v, i) => {
                                const where = declaredIn(v);
                                return (
                                    <Tbody key={v.Uuid} isExpanded={!!open[v.Uuid]} data-uuid={v.Uuid} className="vgpu">
                                        <Tr>
                                            <Td expand={{ rowIndex: i, isExpanded: !!open[v.Uuid], onToggle: () => setOpen({ ...open, [v.Uuid]: !open[v.Uuid] }) }} />
                                            <Td dataLabel="UUID" className="uuid">{v.Uuid}{v.Name && <> ({v.Name})</>}</Td>
                                            <Td dataLabel="Type">{v.Type}</Td>
                                            <Td dataLabel="Parent">{v.Parent}</Td>
                                            <Td dataLabel="State"><Label className="state" color={stateColor[v.State] ?? "grey"}>{v.State}</Label></Td>
                                            <Td dataLabel="In use" className="in-use">{v.InUse ? "yes, by a VM (or gvtd cannot see)" : "no"}</Td>
                                            <Td dataLabel="Declared" className="declared">
                                                {where.kind === "dbus" ? "over D-Bus" : where.kind === "file" ? where.file : "not declared"}
                                            </Td>
                                            <Td dataLabel="Created by" className="owned">{v.Owned ? "gvtd" : "someone else"}</Td>
                                            <Td dataLabel="Actions">
                                                {where.kind === "dbus"
                                                    ? <Button variant="link" isDanger isDisabled={!canChange} className="remove"
                                                        onClick={() => act(`Remove ${v.Uuid}`, call("RemoveVGpu", "s", [v.Uuid]).then(() => "Removed."))}>Remove</Button>
                                                    : where.kind === "file" && <span className="edit-file">edit that file to remove it</span>}
                                            </Td>
                                        </Tr>
                                        {v.LastError && (
                                            <Tr><Td /><Td colSpan={8} className="last-error">{v.LastError}</Td></Tr>)}
                                        <Tr isExpanded={!!open[v.Uuid]}>
                                            <Td colSpan={9}>
                                                <ExpandableRowContent>
                                                    <Content component="p">QEMU:</Content>
                                                    <ClipboardCopy isReadOnly isCode className="qemu-args">{v.QemuArgs}</ClipboardCopy>
                                                    <Content component="p">libvirt (virsh edit, inside &lt;devices&gt;):</Content>
                                                    <ClipboardCopy isReadOnly isCode variant="expansion" className="libvirt-xml">{v.LibvirtXml}</ClipboardCopy>
                                                </ExpandableRowContent>
                                            </Td>
                                        </Tr>
                                    </Tbody>);
                            })}
                        </Table>)}
            </CardBody>
        </Card>);
}
