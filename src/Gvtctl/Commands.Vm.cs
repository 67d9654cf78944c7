using Gvtd.Contract;

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

    /// <summary>
    /// The contract's rule, as gvtd's QemuArgs property gives it. Where gvtd has no place for the
    /// device yet (its parent is absent), the kernel's bus link is where it will be.
    /// </summary>
    internal static string QemuDevice(VGpu vgpu, ParentDevice? parent)
    {
        var sysfs = vgpu.SysfsPath.Length > 0 ? vgpu.SysfsPath
            : parent is not null ? $"{parent.SysfsPath}/{vgpu.Uuid}" : $"/sys/bus/mdev/devices/{vgpu.Uuid}";
        return VmArguments.QemuDevice(sysfs, parent?.Driver ?? "");
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

    internal static string HostdevXml(VGpu vgpu, ParentDevice? parent) => VmArguments.LibvirtHostdev(vgpu.Uuid, parent?.Driver ?? "");

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
