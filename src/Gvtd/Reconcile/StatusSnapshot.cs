using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Sysfs;

namespace Gvtd.Reconcile;

public enum DaemonState { Starting, Idle, Reconciling, Degraded }

/// <summary>
/// An immutable picture of the daemon after a pass. Readers (D-Bus, logs) take the current one and
/// never see a half-updated state.
/// </summary>
public sealed record StatusSnapshot(
    DaemonState State,
    string ConfigError,
    IReadOnlyList<string> ConfigFiles,
    Settings Settings,
    DateTimeOffset? LastReconcile,
    IReadOnlyList<VGpuStatus> VGpus,
    IReadOnlyDictionary<string, MdevParent> Parents,
    IReadOnlyList<PlannedAction> Plan,
    string LedgerError = "",
    SleepStatus? SleepOrNull = null,
    long Generation = 0,
    string Blind = "")
{
    /// <summary>SR-IOV physical functions declared or with VFs, and what the next pass would do to them.</summary>
    public IReadOnlyList<FunctionStatus> Functions { get; init; } = [];
    public IReadOnlyList<FunctionAction> FunctionPlan { get; init; } = [];

    public SleepStatus Sleep => SleepOrNull ?? SleepStatus.Unavailable;

    public static readonly StatusSnapshot Initial = new(DaemonState.Starting, "", [], Settings.Default, null, [],
        new Dictionary<string, MdevParent>(), []);

    public int Desired => VGpus.Count(v => v.Declared);
    public int Active => VGpus.Count(v => v.Declared && v.State == VGpuState.Active);
    public int Failed => VGpus.Count(v => v.State == VGpuState.Failed);

    // Worked out once per snapshot, not on every D-Bus Get. A `with` copies them as they are, which
    // is right because the snapshot's `with`s change only State and the sleep status.

    /// <summary>Parents that declared vGPUs wait for: not registered with the mdev core (driver not loaded).</summary>
    public IReadOnlyList<string> AwaitedParents => field ??=
        Plan.Where(a => a.Blocked == BlockReason.ParentAbsent).Select(a => a.Parent)
            .Concat(FunctionPlan.Where(a => a.Blocked == BlockReason.ParentAbsent).Select(a => a.Address))
            .Distinct().Order(StringComparer.Ordinal).ToList();

    public int DesiredFunctions => Functions.Count(f => f.Declared);
    public int ActiveFunctions => Functions.Count(f => f.Declared && f.State == VGpuState.Active);

    /// <summary>The one line `systemctl status gvtd` shows (STATUS=) and the Manager's StatusText.</summary>
    public string Summary => field ??= (ConfigError.Length > 0 ? "Invalid desired state, keeping the last valid one; " : "")
        + string.Join(", ", Counts())
        + (AwaitedParents.Count > 0 ? $"; waiting for parent {string.Join(", ", AwaitedParents)}: driver not loaded" : "")
        + (LedgerError.Length > 0 ? $"; ledger not saved: {LedgerError}" : "")
        + (Blind.Length > 0 ? $"; {Blind}, so nothing is changed" : "");

    /// <summary>The vGPU count (always, unless only SR-IOV is declared), failures, and the SR-IOV PFs when any are declared.</summary>
    private IEnumerable<string> Counts()
    {
        if (Desired > 0 || DesiredFunctions == 0 || Failed > 0) yield return $"{Active} of {Desired} vGPUs active";
        if (Failed > 0) yield return $"{Failed} failed";
        if (DesiredFunctions > 0) yield return $"{ActiveFunctions} of {DesiredFunctions} SR-IOV PFs as declared";
    }
}
