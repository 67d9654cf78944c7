
namespace Gvtctl;

/// <summary>`gvtctl qemu-args` and `libvirt-xml`: what a VM needs to take a vGPU.</summary>
internal static partial class Commands
{
    private static (VGpu VGpu, ParentDevice? Parent) Find(CommandLine cl, GvtdClient gvtd)
    {
        var uuid = RequireUuid(cl);
        var (vgpus, parents) = Objects(gvtd);
        var vgpu = vgpus.FirstOrDefault(v => v.Uuid == uuid)
            ?? throw new CliException(ExitCodes.Failure, $"gvtd knows no vGPU {uuid} (gvtctl list shows them)");
        return (vgpu, parents.FirstOrDefault(p => p.Name == vgpu.Parent));
    }

    internal static string QemuDevice(VGpu vgpu, ParentDevice? parent)
    {
        var sysfs = vgpu.SysfsPath.Length > 0 ? vgpu.SysfsPath
            : parent is not null ? $"{parent.SysfsPath}/{vgpu.Uuid}" : $"/sys/bus/mdev/devices/{vgpu.Uuid}";
        var extra = parent?.IsGvtg == true ? ",display=on,x-igd-opregion=on" : "";
        return $"vfio-pci,sysfsdev={sysfs}{extra},rombar=0";
    }

    private static int QemuArgs(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        var (vgpu, parent) = Find(cl, gvtd);
        var device = QemuDevice(vgpu, parent);
        if (cl.Json)
            Json.Write(term.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("uuid", vgpu.Uuid);
                w.WriteStartArray("args");
                w.WriteStringValue("-device");
                w.WriteStringValue(device);
                w.WriteEndArray();
                w.WriteEndObject();
            });
        else
            term.Out.WriteLine($"-device {device}");
        return ExitCodes.Ok;
    }

    internal static string HostdevXml(VGpu vgpu, ParentDevice? parent) =>
        $"""
        <hostdev mode='subsystem' type='mdev' model='vfio-pci'{(parent?.IsGvtg == true ? " display='on'" : "")}>
          <source>
            <address uuid='{vgpu.Uuid}'/>
          </source>
        </hostdev>
        """;

    private static int LibvirtXml(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        var (vgpu, parent) = Find(cl, gvtd);
        var xml = HostdevXml(vgpu, parent);
        if (cl.Json)
            Json.Write(term.Out, w => { w.WriteStartObject(); w.WriteString("uuid", vgpu.Uuid); w.WriteString("xml", xml); w.WriteEndObject(); });
        else
            term.Out.WriteLine(xml);
        return ExitCodes.Ok;
    }
}
