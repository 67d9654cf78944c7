using Gvtd.DesiredState;
using Gvtd.Sysfs;

namespace Gvtd.Planning;

public enum FunctionActionKind
{
    /// <summary>0 VFs now: turn autoprobe off, write the provisioning values, enable the VFs, bind them.</summary>
    Enable,
    /// <summary>Write 0 to sriov_numvfs: every VF goes.</summary>
    Disable,
    /// <summary>The count (or what must be set before enabling) differs: through 0, then as Enable. The kernel refuses N to M directly.</summary>
    Reset,
    /// <summary>The count is right; some VFs have no driver (or not the declared vGPU type): bind them.</summary>
    Bind,
    Keep,
    Blocked,
    Ignore,
}

/// <summary>One decision of the planner for an SR-IOV physical function, with the reason a person reads.</summary>
public sealed record FunctionAction(FunctionActionKind Kind, string Address, string Reason,
    DesiredFunction? Desired = null, PhysicalFunction? Observed = null, BlockReason Blocked = BlockReason.None)
{
    public bool ChangesSomething => Kind is FunctionActionKind.Enable or FunctionActionKind.Disable or FunctionActionKind.Reset or FunctionActionKind.Bind;

    public string KindName => Kind.ToString().ToLowerInvariant();

    /// <summary>The VF count as the plan would leave it.</summary>
    public int WantedVfs => Desired?.Vfs ?? 0;
}
