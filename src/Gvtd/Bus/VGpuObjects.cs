using Gvtd.Interop;
using Gvtd.Reconcile;

namespace Gvtd.Bus;

/// <summary>/org/gvtd/Gvtd1/vgpu/&lt;uuid&gt;: one object per declared or present vGPU.</summary>
internal sealed class VGpuObjects
{
    private readonly ObjectFamily<VGpuStatus> _family = new(BusNames.VGpuPrefix, BusNames.VGpuInterface, Properties);

    public string PathOf(string uuid) => _family.PathOf(uuid);

    public void Export(BusConnection bus) => _family.Export(bus, new BusInterface(BusNames.VGpuInterface));

    public void Update(BusConnection bus, StatusSnapshot snapshot) =>
        _family.Update(bus, snapshot.VGpus.Select(v => (v.Uuid, v)));

    /// <summary>The QEMU argument from the seed manual; empty while the device has no place in sysfs.</summary>
    public static string QemuArgs(VGpuStatus v) =>
        v.SysfsPath.Length == 0 ? "" : $"-device vfio-pci,sysfsdev={v.SysfsPath},rombar=0";

    private static readonly PropertyTable<VGpuStatus> Properties = new(
        new("Uuid", "s", v => v.Uuid, Const: true),
        new("Name", "s", v => v.Name),
        new("Type", "s", v => v.Type),
        new("Parent", "s", v => v.Parent),
        new("State", "s", v => v.State.ToString().ToLowerInvariant()),
        new("LastError", "s", v => v.LastError),
        new("Declared", "b", v => v.Declared),
        new("Owned", "b", v => v.Owned),
        new("InUse", "b", v => v.InUse),
        new("SysfsPath", "s", v => v.SysfsPath),
        new("Source", "s", v => v.Source),
        new("QemuArgs", "s", QemuArgs));
}
