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

    /// <summary>The contract's rule, as gvtd's QemuArgs property gives it.</summary>
    internal static string QemuDevice(VGpu vgpu, ParentDevice? parent) =>
        VmArguments.QemuDevice(VmArguments.DevicePath(vgpu.Uuid, vgpu.SysfsPath, parent?.SysfsPath), parent?.Driver ?? "", DeviceApi(vgpu, parent));

    /// <summary>What the kernel says the vGPU's type is (device_api), where its parent is there to say it.</summary>
    private static string DeviceApi(VGpu vgpu, ParentDevice? parent) => parent?.Types.FirstOrDefault(t => t.Id == vgpu.Type)?.DeviceApi ?? "";

    private static int QemuArgs(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        if (FindVf(cl, gvtd) is { } vf)
        {
            var args = VmArguments.QemuArgsForFunction(vf.Address);
            if (cl.Json)
                Json.Write(term.Out, w =>
                {
                    w.WriteStartObject();
                    w.WriteString("vf", vf.Address);
                    w.WriteStartArray("args");
                    foreach (var word in args.Split(' ')) w.WriteStringValue(word);
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
            else
                term.Out.WriteLine(args);
            return ExitCodes.Ok;
        }
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

    internal static string HostdevXml(VGpu vgpu, ParentDevice? parent) => VmArguments.LibvirtHostdev(vgpu.Uuid, parent?.Driver ?? "", DeviceApi(vgpu, parent));

    private static int LibvirtXml(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        if (FindVf(cl, gvtd) is { } vf)
        {
            var hostdev = VmArguments.LibvirtHostdevForFunction(vf.Address);
            if (cl.Json)
                Json.Write(term.Out, w => { w.WriteStartObject(); w.WriteString("vf", vf.Address); w.WriteString("xml", hostdev); w.WriteEndObject(); });
            else
                term.Out.WriteLine(hostdev);
            return ExitCodes.Ok;
        }
        var (vgpu, parent) = Find(cl, gvtd);
        var xml = HostdevXml(vgpu, parent);
        if (cl.Json)
            Json.Write(term.Out, w => { w.WriteStartObject(); w.WriteString("uuid", vgpu.Uuid); w.WriteString("xml", xml); w.WriteEndObject(); });
        else
            term.Out.WriteLine(xml);
        return ExitCodes.Ok;
    }
}
