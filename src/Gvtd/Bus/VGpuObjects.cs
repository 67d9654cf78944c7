using Gvtd.Contract;
using Gvtd.Reconcile;

namespace Gvtd.Bus;

/// <summary>What /org/gvtd/Gvtd1/vgpu/&lt;uuid&gt; shows: the vGPU's status and how a VM takes it.</summary>
internal sealed record VGpuObject(VGpuStatus Status, string QemuArgs, string LibvirtXml);

/// <summary>/org/gvtd/Gvtd1/vgpu/&lt;uuid&gt;: one object per declared or present vGPU.</summary>
internal static class VGpuObjects
{
    public static BusInterface<VGpuObject> Interface() => new(BusNames.VGpuInterface, Properties);

    public static IEnumerable<(string Key, VGpuObject Item)> From(StatusSnapshot snapshot) =>
        snapshot.VGpus.Select(v => (v.Uuid, Object(v, snapshot)));

    /// <summary>The contract's rules, with what the kernel says of the parent and the type (device_api).</summary>
    private static VGpuObject Object(VGpuStatus v, StatusSnapshot snapshot)
    {
        var parent = snapshot.Parents.GetValueOrDefault(v.Parent);
        var (driver, deviceApi) = (parent?.Driver ?? "", parent?.FindType(v.Type)?.DeviceApi ?? "");
        return new VGpuObject(v, VmArguments.QemuArgs(VmArguments.DevicePath(v.Uuid, v.SysfsPath, parent?.SysfsPath), driver, deviceApi),
            VmArguments.LibvirtHostdev(v.Uuid, driver, deviceApi));
    }

    private static readonly PropertyTable<VGpuObject> Properties = new(
        PropertyTable<VGpuObject>.String("Uuid", o => o.Status.Uuid, isConst: true),
        PropertyTable<VGpuObject>.String("Name", o => o.Status.Name),
        PropertyTable<VGpuObject>.String("Type", o => o.Status.Type),
        PropertyTable<VGpuObject>.String("Parent", o => o.Status.Parent),
        PropertyTable<VGpuObject>.String("State", o => o.Status.StateName),
        PropertyTable<VGpuObject>.String("LastError", o => o.Status.LastError),
        PropertyTable<VGpuObject>.Bool("Declared", o => o.Status.Declared),
        PropertyTable<VGpuObject>.Bool("Owned", o => o.Status.Owned),
        PropertyTable<VGpuObject>.Bool("InUse", o => o.Status.InUse),
        PropertyTable<VGpuObject>.String("SysfsPath", o => o.Status.SysfsPath),
        PropertyTable<VGpuObject>.String("Source", o => o.Status.Source),
        PropertyTable<VGpuObject>.String("QemuArgs", o => o.QemuArgs),
        PropertyTable<VGpuObject>.String("LibvirtXml", o => o.LibvirtXml));
}
