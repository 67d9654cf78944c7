using Gvtd.Contract;
using Gvtd.Reconcile;
using Gvtd.Sysfs;

namespace Gvtd.Bus;

/// <summary>What /org/gvtd/Gvtd1/vf/&lt;address&gt; shows: one VF, its PF, the driver declared for it, and how a VM takes it.</summary>
internal sealed record VfObject(VirtualFunction Vf, string PhysicalFunction, string DeclaredDriver)
{
    /// <summary>bound (to the declared driver, or to any when none is declared), unbound, or other-driver.</summary>
    public string State => Vf.Driver.Length == 0 ? "unbound"
        : DeclaredDriver.Length == 0 || Vf.Driver == DeclaredDriver ? "bound" : "other-driver";
}

/// <summary>
/// /org/gvtd/Gvtd1/pf/&lt;address&gt;: each SR-IOV physical function gvtd looks after or that has VFs;
/// /org/gvtd/Gvtd1/vf/&lt;address&gt;: each of their virtual functions.
/// </summary>
internal static class FunctionObjects
{
    public static BusInterface<FunctionStatus> PfInterface() => new(BusNames.PhysicalFunctionInterface, PfProperties);

    public static BusInterface<VfObject> VfInterface() => new(BusNames.VirtualFunctionInterface, VfProperties);

    public static IEnumerable<(string Key, FunctionStatus Item)> Pfs(StatusSnapshot snapshot) =>
        snapshot.Functions.Select(f => (f.Address, f));

    public static IEnumerable<(string Key, VfObject Item)> Vfs(StatusSnapshot snapshot) =>
        snapshot.Functions.SelectMany(f => f.Vfs.Select(v => (v.Address, new VfObject(v, f.Address, f.VfDriver))));

    private static readonly PropertyTable<FunctionStatus> PfProperties = new(
        PropertyTable<FunctionStatus>.String("Address", f => f.Address, isConst: true),
        PropertyTable<FunctionStatus>.String("Name", f => f.Name),
        PropertyTable<FunctionStatus>.String("Driver", f => f.Driver),
        PropertyTable<FunctionStatus>.UInt32("TotalVfs", f => (uint)f.TotalVfs),
        PropertyTable<FunctionStatus>.UInt32("NumVfs", f => (uint)f.Vfs.Count),
        PropertyTable<FunctionStatus>.UInt32("DesiredVfs", f => (uint)f.DesiredVfs),
        PropertyTable<FunctionStatus>.String("VfDriver", f => f.VfDriver),
        PropertyTable<FunctionStatus>.String("State", f => f.StateName),
        PropertyTable<FunctionStatus>.String("LastError", f => f.LastError),
        PropertyTable<FunctionStatus>.Bool("Declared", f => f.Declared),
        PropertyTable<FunctionStatus>.Bool("Owned", f => f.Owned),
        PropertyTable<FunctionStatus>.Bool("InUse", f => f.InUse),
        PropertyTable<FunctionStatus>.String("SysfsPath", f => f.SysfsPath),
        PropertyTable<FunctionStatus>.String("Source", f => f.Source),
        PropertyTable<FunctionStatus>.Strings("VirtualFunctions", f => f.Vfs.Select(v => v.Address).ToList()));

    private static readonly PropertyTable<VfObject> VfProperties = new(
        PropertyTable<VfObject>.String("Address", o => o.Vf.Address, isConst: true),
        PropertyTable<VfObject>.String("PhysicalFunction", o => o.PhysicalFunction),
        PropertyTable<VfObject>.UInt32("Number", o => (uint)o.Vf.Number),
        PropertyTable<VfObject>.String("Driver", o => o.Vf.Driver),
        PropertyTable<VfObject>.String("State", o => o.State),
        PropertyTable<VfObject>.Bool("InUse", o => o.Vf.InUse),
        PropertyTable<VfObject>.String("Use", o => o.Vf.Use.ToString().ToLowerInvariant()),
        PropertyTable<VfObject>.String("VGpuType", o => o.Vf.Nvidia?.Current ?? ""),
        PropertyTable<VfObject>.String("SysfsPath", o => o.Vf.SysfsPath),
        PropertyTable<VfObject>.String("QemuArgs", o => VmArguments.QemuArgsForFunction(o.Vf.Address)),
        PropertyTable<VfObject>.String("LibvirtXml", o => VmArguments.LibvirtHostdevForFunction(o.Vf.Address)));
}
