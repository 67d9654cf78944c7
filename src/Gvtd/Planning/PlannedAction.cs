using Gvtd.DesiredState;
using Gvtd.Sysfs;

namespace Gvtd.Planning;

public enum ActionKind
{
    /// <summary>Write the UUID to the type's create file.</summary>
    Create,
    /// <summary>Write 1 to the device's remove file.</summary>
    Remove,
    /// <summary>The declared UUID exists with another type or parent: remove, then create.</summary>
    Recreate,
    /// <summary>Already as declared.</summary>
    Keep,
    /// <summary>Should change, but cannot now (parent absent, unknown type, no capacity, in use, not ours).</summary>
    Blocked,
    /// <summary>Not declared, and the prune policy keeps it.</summary>
    Ignore,
}

/// <summary>Why a Blocked action cannot go ahead, for callers that must react differently to each.</summary>
public enum BlockReason
{
    None, ParentAbsent, UnknownType, NoCapacity, InUse, NotOwned, RetryLater, Asleep,
    /// <summary>gvtd could not read whether the device exists: it acts on nothing it cannot see.</summary>
    Unseen,
    /// <summary>
    /// The device does not look as declared right after gvtd set it up for this declaration (the
    /// driver keeps another value): doing it again would destroy it again for nothing (never churn).
    /// </summary>
    DriverKeeps,
}

/// <summary>One decision of the planner, with the reason a person reads in logs, Plan() and gvtctl.</summary>
public sealed record PlannedAction(ActionKind Kind, string Uuid, string Type, string Parent, string Reason,
    DesiredVGpu? Desired = null, MdevDevice? Observed = null, BlockReason Blocked = BlockReason.None)
{
    public bool ChangesSomething => Kind is ActionKind.Create or ActionKind.Remove or ActionKind.Recreate;

    public string KindName => Kind.ToString().ToLowerInvariant();
}
