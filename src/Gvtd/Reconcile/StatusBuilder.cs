using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Sysfs;

namespace Gvtd.Reconcile;

/// <summary>
/// Derives each vGPU's state from a plan of the current situation, rather than tracking state by
/// hand: whatever the plan would still do is exactly what is not yet right.
/// </summary>
public static class StatusBuilder
{
    public static IReadOnlyList<VGpuStatus> Build(IReadOnlyList<PlannedAction> plan, IReadOnlyDictionary<string, MdevParent> parents,
        IReadOnlySet<string> owned, Func<string, string?> lastError, Func<string, bool> writePending)
    {
        return plan.Select(action =>
        {
            var declared = action.Desired is not null;
            var error = lastError(action.Uuid);
            var state = StateOf(action.Kind == ActionKind.Keep, action.Kind == ActionKind.Ignore, action.Kind == ActionKind.Blocked,
                declared, writePending(action.Uuid), error);
            var lastErrorText = Explained(state, error, action.Reason);
            return new VGpuStatus(action.Uuid, action.Desired?.Name ?? "", action.Type, action.Parent, state, lastErrorText,
                declared, owned.Contains(action.Uuid), action.Observed?.InUse ?? false, SysfsPath(action, parents),
                action.Desired?.Source is { } s ? $"{s.File}:{s.Line}" : "");
        }).OrderBy(s => s.Uuid, StringComparer.Ordinal).ToList();
    }

    /// <summary>The same rule for SR-IOV PFs: what the plan would still do is what is not yet right.</summary>
    public static IReadOnlyList<FunctionStatus> BuildFunctions(IReadOnlyList<FunctionAction> plan, IReadOnlySet<string> owned,
        Func<string, string?> lastError, Func<string, bool> writePending)
    {
        // A PF gvtd does not look at (an undeclared NIC: FunctionScope) is in the plan, to say why, but has no status.
        return plan.Where(a => a.Desired is not null || a.Observed is not null).Select(action =>
        {
            var declared = action.Desired is not null;
            var error = lastError(action.Address);
            var state = StateOf(action.Kind == FunctionActionKind.Keep, action.Kind == FunctionActionKind.Ignore, action.Kind == FunctionActionKind.Blocked,
                declared, writePending(action.Address), error);
            var pf = action.Observed;
            return new FunctionStatus(action.Address, action.Desired?.Name ?? "", pf?.Driver ?? "", pf?.TotalVfs ?? 0, action.Desired?.Vfs ?? 0,
                action.Desired?.Driver ?? "", state, Explained(state, error, action.Reason),
                declared, owned.Contains(action.Address), pf?.SysfsPath ?? "",
                action.Desired?.Source is { } s ? $"{s.File}:{s.Line}" : "", pf?.Vfs ?? []);
        }).ToList();
    }

    /// <summary>
    /// The one rule from what the plan would do to a state, for vGPUs and PFs alike: as declared is
    /// active; what would still change is pending, failed (its last write failed) or blocked; what is
    /// not declared is undeclared when it stays, removing when it goes.
    /// </summary>
    private static VGpuState StateOf(bool kept, bool ignored, bool blocked, bool declared, bool writePending, string? error) =>
        kept ? VGpuState.Active
        : ignored ? VGpuState.Undeclared
        : !declared ? VGpuState.Removing
        : writePending ? VGpuState.Pending
        : error is not null ? VGpuState.Failed
        : blocked ? VGpuState.Blocked
        : VGpuState.Pending;

    /// <summary>What LastError says in each state: nothing when fine, the failure, or why it is not yet so.</summary>
    private static string Explained(VGpuState state, string? error, string reason) => state switch
    {
        VGpuState.Active or VGpuState.Undeclared => "",
        VGpuState.Failed => error!,
        _ => reason,
    };

    /// <summary>Where the device is, or will be once created (the parent's directory plus the UUID).</summary>
    private static string SysfsPath(PlannedAction action, IReadOnlyDictionary<string, MdevParent> parents) =>
        action.Kind is ActionKind.Keep or ActionKind.Ignore or ActionKind.Remove && action.Observed is { } observed ? observed.SysfsPath
        : parents.TryGetValue(action.Parent, out var parent) ? Path.Combine(parent.SysfsPath, action.Uuid)
        : action.Observed?.SysfsPath ?? "";
}
