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
            var state = action.Kind switch
            {
                ActionKind.Keep => VGpuState.Active,
                ActionKind.Ignore => VGpuState.Undeclared,
                _ when !declared => VGpuState.Removing,
                _ when writePending(action.Uuid) => VGpuState.Pending,
                _ when error is not null => VGpuState.Failed,
                ActionKind.Blocked => VGpuState.Blocked,
                _ => VGpuState.Pending,
            };
            var lastErrorText = state switch
            {
                VGpuState.Active or VGpuState.Undeclared => "",
                VGpuState.Failed => error!,
                _ => action.Reason,
            };
            return new VGpuStatus(action.Uuid, action.Desired?.Name ?? "", action.Type, action.Parent, state, lastErrorText,
                declared, owned.Contains(action.Uuid), action.Observed?.InUse ?? false, SysfsPath(action, parents),
                action.Desired?.Source is { } s ? $"{s.File}:{s.Line}" : "");
        }).OrderBy(s => s.Uuid, StringComparer.Ordinal).ToList();
    }

    /// <summary>The same rule for SR-IOV PFs: what the plan would still do is what is not yet right.</summary>
    public static IReadOnlyList<FunctionStatus> BuildFunctions(IReadOnlyList<FunctionAction> plan, IReadOnlySet<string> owned,
        Func<string, string?> lastError, Func<string, bool> writePending)
    {
        return plan.Select(action =>
        {
            var declared = action.Desired is not null;
            var error = lastError(action.Address);
            var state = action.Kind switch
            {
                FunctionActionKind.Keep => VGpuState.Active,
                FunctionActionKind.Ignore => VGpuState.Undeclared,
                _ when !declared => VGpuState.Removing,
                _ when writePending(action.Address) => VGpuState.Pending,
                _ when error is not null => VGpuState.Failed,
                FunctionActionKind.Blocked => VGpuState.Blocked,
                _ => VGpuState.Pending,
            };
            var pf = action.Observed;
            return new FunctionStatus(action.Address, action.Desired?.Name ?? "", pf?.Driver ?? "", pf?.TotalVfs ?? 0, action.Desired?.Vfs ?? 0,
                action.Desired?.Driver ?? "", state,
                state switch { VGpuState.Active or VGpuState.Undeclared => "", VGpuState.Failed => error!, _ => action.Reason },
                declared, owned.Contains(action.Address), pf?.SysfsPath ?? "",
                action.Desired?.Source is { } s ? $"{s.File}:{s.Line}" : "", pf?.Vfs ?? []);
        }).ToList();
    }

    /// <summary>Where the device is, or will be once created (the parent's directory plus the UUID).</summary>
    private static string SysfsPath(PlannedAction action, IReadOnlyDictionary<string, MdevParent> parents) =>
        action.Kind is ActionKind.Keep or ActionKind.Ignore or ActionKind.Remove && action.Observed is { } observed ? observed.SysfsPath
        : parents.TryGetValue(action.Parent, out var parent) ? Path.Combine(parent.SysfsPath, action.Uuid)
        : action.Observed?.SysfsPath ?? "";
}
