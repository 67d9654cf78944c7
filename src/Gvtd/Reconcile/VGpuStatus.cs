using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Sysfs;

namespace Gvtd.Reconcile;

public enum VGpuState { Active, Pending, Blocked, Failed, Removing, Undeclared }

/// <summary>Everything worth knowing about one vGPU, declared or present. What the D-Bus objects show.</summary>
public sealed record VGpuStatus(
    string Uuid, string Name, string Type, string Parent, VGpuState State, string LastError,
    bool Declared, bool Owned, bool InUse, string SysfsPath, string Source)
{
    /// <summary>The state as the bus and gvtctl spell it.</summary>
    public string StateName => State.ToString().ToLowerInvariant();
}
