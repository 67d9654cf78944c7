using Gvtd.Sysfs;

namespace Gvtd.Reconcile;

/// <summary>
/// Everything worth knowing about one SR-IOV physical function, declared or with VFs: what the
/// PhysicalFunction and VirtualFunction objects show. State reads as a vGPU's does (active: as declared).
/// </summary>
public sealed record FunctionStatus(
    string Address, string Name, string Driver, int TotalVfs, int DesiredVfs, string VfDriver, VGpuState State, string LastError,
    bool Declared, bool Owned, string SysfsPath, string Source, IReadOnlyList<VirtualFunction> Vfs)
{
    public string StateName => State.ToString().ToLowerInvariant();

    public bool InUse => Vfs.Any(v => v.InUse);
}
