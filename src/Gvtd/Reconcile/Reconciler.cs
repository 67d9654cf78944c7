using Gvtd.Applying;
using Gvtd.DesiredState;
using Gvtd.Ownership;
using Gvtd.Planning;
using Gvtd.Sysfs;
using Microsoft.Extensions.Logging;

namespace Gvtd.Reconcile;

/// <summary>
/// One reconcile pass: observe, plan, apply, record ownership, publish a new status snapshot.
/// Passes never overlap (the worker runs them one at a time); readers only see finished snapshots.
/// </summary>
public sealed class Reconciler(
    DesiredStateStore desired, SysfsReader reader, Applier applier, FunctionApplier functionApplier, OwnershipLedger ledger,
    TimeProvider time, ILogger<Reconciler> logger)
{
    /// <summary>Plan-and-apply rounds in one pass; each round after the first needs the one before to have made progress.</summary>
    private const int MaxRounds = 3;
    private readonly RetryBackoff _backoff = new(time);
    private readonly OncePerDeclaration _setUp = new();
    private Dictionary<string, (VGpuState, string)> _lastLogged = new(StringComparer.Ordinal);
    private Dictionary<string, string> _lastLoggedFunctions = new(StringComparer.Ordinal);
    private string _lastLedgerError = "";
    private volatile StatusSnapshot _current = StatusSnapshot.Initial;
    // Every change of the snapshot, from the worker's thread or the sleep coordinator's, is made and
    // announced under this lock, numbered as it is made: subscribers see snapshots one at a time
    // and in order, so an older one is never published after a newer one.
    private readonly Lock _publishing = new();
    private long _generation;
    private SleepStatus _sleep = SleepStatus.Unavailable;

    public StatusSnapshot Current => _current;

    private volatile UeventInterest _uevents = UeventInterest.AllPci;

    /// <summary>
    /// Which PCI functions' uevents can change the next pass, as the last pass saw the host (the
    /// worker filters with it, through <see cref="Uevent.MattersTo"/>, and reads no sysfs itself).
    /// </summary>
    public UeventInterest UeventInterest => _uevents;

    /// <summary>
    /// The machine is about to sleep, or sleeping (set by the worker around logind's
    /// PrepareForSleep): passes plan to set vGPUs aside (settings.sleep) instead of creating them.
    /// </summary>
    public volatile bool Asleep;

    /// <summary>The sleep coordinator's side of the status: where the cycle is, and whether it holds the inhibitor.</summary>
    public void SetSleep(string state, bool inhibitorHeld) => Publish(s =>
    {
        _sleep = _sleep with { State = state, InhibitorHeld = inhibitorHeld };
        return s with { SleepOrNull = _sleep };
    }, null);

    /// <summary>
    /// Raised for every new snapshot, in order and one at a time (under the publishing lock, so a
    /// handler must be quick and must not wait for another publication): as a pass starts (result
    /// null), when it ends (with its result), and when the sleep cycle moves.
    /// </summary>
    public event Action<StatusSnapshot, PassResult?>? Changed;

    /// <summary>
    /// How long until a change the last pass held back for its retry may be tried (zero if it may
    /// now), or null when none waits. Only held-back changes count: a failure whose device is now
    /// blocked for another reason (its parent went) must not wake the loop over and over. Nor
    /// must a device whose write is still stuck in the kernel: the write returning brings its pass
    /// (<see cref="Applier.LateWriteFinished"/>); retried before, it would be pass after pass.
    /// </summary>
    public TimeSpan? NextRetry => _current.Plan.Where(a => a.Blocked == BlockReason.RetryLater).Select(a => a.Uuid)
        .Concat(_current.FunctionPlan.Where(a => a.Blocked == BlockReason.RetryLater).Select(a => a.Address))
        .Where(key => !applier.IsBusy(key))
        .Select(key => (TimeSpan?)(_backoff.Wait(key) ?? TimeSpan.Zero)).Min();

    /// <summary>
    /// What the next pass would do, without doing it (failed changes still waiting to be retried
    /// show as blocked). A whole read: callers outside the daemon go through PlanPreview, which shares it.
    /// </summary>
    public Preview PlanNow()
    {
        if (desired.Current is not { } state) return Preview.Nothing;
        var observed = Read(state);
        return new Preview(state, observed, WithBackoff(Planner.Plan(state, observed, ledger.Owned, Asleep)), PlanFunctions(state, observed, Asleep));
    }

    /// <summary>One read of the host: the PFs gvtd looks after even while they have no VFs, and no PF it does not look at (FunctionScope).</summary>
    private ObservedState Read(DesiredStateSnapshot state, bool freshUsers = false)
    {
        var scope = FunctionPlanner.Scope(state, ledger.OwnedFunctions);
        return reader.Read(freshUsers, scope.Named, scope.DisplayControllers);
    }

    private IReadOnlyList<FunctionAction> PlanFunctions(DesiredStateSnapshot state, ObservedState observed, bool asleep) =>
        FunctionPlanner.Plan(state, observed.Sriov, ledger.OwnedFunctions, asleep, _setUp.SetUpBefore).Select(a =>
            a.ChangesSomething && applier.IsBusy(a.Address)
                ? a with { Kind = FunctionActionKind.Blocked, Blocked = BlockReason.RetryLater, Reason = "an earlier write to this device has not returned yet" }
            : a.ChangesSomething && _backoff.Wait(a.Address) is { } wait
                ? a with { Kind = FunctionActionKind.Blocked, Blocked = BlockReason.RetryLater, Reason = $"{_backoff.LastError(a.Address)}; retrying in {Math.Ceiling(wait.TotalSeconds)}s" }
            : a).ToList();

    public async Task<PassResult> RunPassAsync(string trigger, bool explicitRequest)
    {
        // One view for the whole pass: state, errors and files from the same load.
        var view = desired.View;
        if (view.State is not { } state)
        {
            // Never act on a state that was not valid: not even to prune.
            var observedOnly = reader.Read();
            var refused = new PassResult(0, 0, 0, view.Error);
            Publish(view, DaemonState.Degraded, observedOnly, [], refused);
            return refused;
        }

        if (explicitRequest) _backoff.ResetDelays();
        Publish(s => s with { State = DaemonState.Reconciling }, null);
        try
        {
            return await RunPassAsync(trigger, view, state);
        }
        catch
        {
            // A bug, not bad input (the worker logs it): the status must not stay "reconciling".
            Publish(s => s with { State = DaemonState.Degraded }, null);
            throw;
        }
    }

    private async Task<PassResult> RunPassAsync(string trigger, DesiredStateView view, DesiredStateSnapshot state)
    {
        var asleep = Asleep; // one answer for the whole pass
        var observed = Read(state);
        foreach (var warning in observed.Warnings) logger.LogWarning("sysfs: {Warning}", warning);
        // Creates a crash interrupted are settled by whether their device exists (not while gvtd
        // cannot tell); a ledger the disk refused before is written again.
        if (observed.Blind is null) ledger.Settle(observed.MayExist, applier.IsBusy);
        ledger.RetrySave();

        var outcomes = new List<ApplyOutcome>();
        for (var round = 1; ; round++)
        {
            var plan = WithBackoff(Planner.Plan(state, observed, ledger.Owned, asleep));
            if (plan.Any(a => a.Kind is ActionKind.Remove or ActionKind.Recreate))
            {
                // About to destroy something: decide on a fresh look at who holds what, not a cached one.
                observed = Read(state, freshUsers: true);
                plan = WithBackoff(Planner.Plan(state, observed, ledger.Owned, asleep));
            }
            if (!plan.Any(a => a.ChangesSomething)) break;
            // Recorded before the kernel is asked, so a crash during the writes loses no ownership.
            ledger.Intend(plan.Where(a => a.Kind is ActionKind.Create or ActionKind.Recreate).Select(a => a.Uuid));
            var applied = await applier.ApplyAsync(plan, observed.Parents);
            Record(applied);
            outcomes.AddRange(applied);
            // Look again after the writes. What the kernel counts now can prove room that the counts
            // before could not (GVT-g's pool after a removal): while something waited for room and
            // writes made progress, plan again.
            observed = Read(state);
            if (round == MaxRounds || !plan.Any(a => a.Blocked == BlockReason.NoCapacity)
                || !applied.Any(o => o.Kind is OutcomeKind.Created or OutcomeKind.Removed)) break;
        }

        var functionOutcomes = await ApplyFunctionsAsync(state, observed, asleep);
        if (functionOutcomes.Count > 0) observed = Read(state);

        var after = observed;
        ForgetStale(state, after);
        var nextPlan = WithBackoff(Planner.Plan(state, after, ledger.Owned, asleep));
        var nextFunctionPlan = PlanFunctions(state, after, asleep);
        ForgetSettledFailures(state, after, nextPlan, nextFunctionPlan);
        _uevents = InterestIn(state, after);
        // What this pass set aside for sleep is what resume brings back; once awake, the list ends.
        lock (_publishing)
        {
            _sleep = _sleep with
            {
                SetAside = asleep
                    ? [.. _sleep.SetAside.Union(outcomes.Where(o => o.Kind == OutcomeKind.Removed).Select(o => o.Action.Uuid))
                        .Union(functionOutcomes.Where(o => o.Kind == OutcomeKind.Removed).Select(o => o.Action.Address)).Order(StringComparer.Ordinal)]
                    : [],
            };
        }
        var result = new PassResult(
            outcomes.Count(o => o.Kind == OutcomeKind.Created) + functionOutcomes.Count(o => o.Kind == OutcomeKind.Created),
            outcomes.Count(o => o.Kind == OutcomeKind.Removed) + functionOutcomes.Count(o => o.Kind == OutcomeKind.Removed),
            outcomes.Count(o => !o.Succeeded) + functionOutcomes.Count(o => !o.Succeeded),
            view.Error);
        var snapshot = Publish(view, DaemonState.Idle, after, nextPlan, result, nextFunctionPlan);
        LogPass(trigger, result, snapshot);
        return result;
    }

    /// <summary>
    /// Plans and applies the SR-IOV side once per pass (it has no shared pool to retry for). PFs
    /// about to be enabled are recorded as gvtd's before the write; disabled undeclared ones are forgotten.
    /// </summary>
    private async Task<IReadOnlyList<FunctionOutcome>> ApplyFunctionsAsync(DesiredStateSnapshot state, ObservedState observed, bool asleep)
    {
        _setUp.Forget(state.Functions);
        var plan = PlanFunctions(state, observed, asleep);
        if (!plan.Any(a => a.ChangesSomething)) return [];
        if (plan.Any(a => a.Kind is FunctionActionKind.Disable or FunctionActionKind.Reset))
        {
            // A count change removes every VF: decide on a fresh look at who holds them.
            plan = PlanFunctions(state, Read(state, freshUsers: true), asleep);
            if (!plan.Any(a => a.ChangesSomething)) return [];
        }
        ledger.OwnFunctions(plan.Where(a => a.Kind is FunctionActionKind.Enable or FunctionActionKind.Reset).Select(a => a.Address));
        var outcomes = await functionApplier.ApplyAsync(plan);
        foreach (var outcome in outcomes)
        {
            _setUp.Applied(outcome.Action, outcome.Succeeded);
            if (outcome.Succeeded) _backoff.Succeeded(outcome.Action.Address);
            else if (outcome.Kind == OutcomeKind.Failed) _backoff.Failed(outcome.Action.Address, outcome.Error!);
        }
        ledger.ForgetFunctions(outcomes.Where(o => o.Kind == OutcomeKind.Removed && o.Action.Desired is null).Select(o => o.Action.Address));
        return outcomes;
    }

    private void Record(IReadOnlyList<ApplyOutcome> outcomes)
    {
        foreach (var outcome in outcomes)
        {
            if (outcome.Succeeded) _backoff.Succeeded(outcome.Action.Uuid);
            else if (outcome.Kind == OutcomeKind.Failed) _backoff.Failed(outcome.Action.Uuid, outcome.Error!);
        }
        ledger.Update(
            outcomes.Where(o => o.Kind == OutcomeKind.Created).Select(o => o.Action.Uuid),
            outcomes.Where(o => o.Kind == OutcomeKind.Removed).Select(o => o.Action.Uuid));
        ledger.Abandon(outcomes.Where(o => o.Kind == OutcomeKind.Failed && o.Action.Kind is ActionKind.Create or ActionKind.Recreate).Select(o => o.Action.Uuid));
    }

    /// <summary>Says once when the ledger could not be written, and once when it could again.</summary>
    private void LogLedger()
    {
        var error = ledger.SaveError;
        if (error == _lastLedgerError) return;
        if (error.Length > 0)
            logger.LogWarning("The ownership ledger is behind: {Error}; gvtd keeps it in memory and writes it once the disk takes it", error);
        else
            logger.LogInformation("The ownership ledger is written again ({Path})", ledger.FilePath);
        _lastLedgerError = error;
    }

    /// <summary>Owned devices that are gone and no longer declared leave the ledger.</summary>
    private void ForgetStale(DesiredStateSnapshot state, ObservedState observed)
    {
        var declared = state.VGpus.Select(v => v.Uuid).ToHashSet();
        // A device whose remove is still stuck in the kernel is not gone, even if sysfs no longer lists it.
        ledger.Update([], OwnershipLedger.Stale(ledger.Owned, declared, observed, applier.IsBusy));
        // A PF gvtd enabled that is no longer declared and is seen with no VFs is no longer gvtd's.
        var declaredFunctions = state.Functions.Select(f => f.Address).ToHashSet(StringComparer.Ordinal);
        if (observed.Sriov.Blind is null)
            ledger.ForgetFunctions(ledger.OwnedFunctions.Where(a => !declaredFunctions.Contains(a) && !applier.IsBusy(a)
                && observed.Sriov.Functions.GetValueOrDefault(a) is not { NumVfs: > 0 }).ToList());
    }

    /// <summary>
    /// A failure's backoff lasts while its change is still wanted: for a declared device until it
    /// succeeds, for one that is not declared (a remove or disable that failed) until it is gone or
    /// no longer to be changed (prune changed, a VM took it). Forgotten sooner, a failing remove or
    /// disable would be tried again, with an error, at every pass. While gvtd cannot see the
    /// devices it cannot tell what is gone, so nothing is forgotten.
    /// </summary>
    private void ForgetSettledFailures(DesiredStateSnapshot state, ObservedState observed, IReadOnlyList<PlannedAction> plan, IReadOnlyList<FunctionAction> functionPlan)
    {
        if (observed.Blind is not null || observed.Sriov.Blind is not null) return;
        var wanted = state.VGpus.Select(v => v.Uuid).Concat(state.Functions.Select(f => f.Address))
            .Concat(plan.Where(a => a.ChangesSomething || a.Blocked == BlockReason.RetryLater).Select(a => a.Uuid))
            .Concat(functionPlan.Where(a => a.ChangesSomething || a.Blocked == BlockReason.RetryLater).Select(a => a.Address))
            .ToHashSet(StringComparer.Ordinal);
        _backoff.Forget(wanted.Contains);
    }

    /// <summary>
    /// The PCI functions gvtd looks at: the mdev parents (declared or seen), the PFs declared or
    /// owned (with prune: all, also those read) with every VF they have or can have, and with prune:
    /// all any display controller. While gvtd cannot see the PCI devices, every event counts.
    /// </summary>
    private UeventInterest InterestIn(DesiredStateSnapshot state, ObservedState observed)
    {
        if (observed.Sriov.Blind is not null) return UeventInterest.AllPci;
        var pruneAll = state.Settings.Prune == PrunePolicy.All;
        var pfs = state.Functions.Select(f => f.Address).Concat(ledger.OwnedFunctions)
            .Concat(pruneAll ? observed.Sriov.Functions.Keys : []).ToHashSet(StringComparer.Ordinal);
        var addresses = state.VGpus.Select(v => v.Parent).Concat(observed.Parents.Keys).Concat(pfs).ToHashSet(StringComparer.Ordinal);
        foreach (var address in pfs)
            if (observed.Sriov.Functions.GetValueOrDefault(address) is { } pf)
                addresses.UnionWith(pf.Vfs.Select(v => v.Address).Concat(pf.PossibleVfs));
        return new(addresses, DisplayControllers: pruneAll);
    }

    /// <summary>Changes still in backoff after a failure are held back, and say when they will be tried.</summary>
    private IReadOnlyList<PlannedAction> WithBackoff(IReadOnlyList<PlannedAction> plan) =>
        plan.Select(a => a.ChangesSomething && _backoff.Wait(a.Uuid) is { } wait
            ? a with { Kind = ActionKind.Blocked, Blocked = BlockReason.RetryLater, Reason = $"{_backoff.LastError(a.Uuid)}; retrying in {Math.Ceiling(wait.TotalSeconds)}s" }
            : a).ToList();

    private StatusSnapshot Publish(DesiredStateView view, DaemonState daemonState, ObservedState observed, IReadOnlyList<PlannedAction> plan, PassResult result,
        IReadOnlyList<FunctionAction>? functionPlan = null)
    {
        functionPlan ??= [];
        var vgpus = WithStuckRemoves(StatusBuilder.Build(plan, observed.Parents, ledger.Owned, _backoff.LastError, applier.IsBusy));
        var functions = StatusBuilder.BuildFunctions(functionPlan, ledger.OwnedFunctions, _backoff.LastError, applier.IsBusy);
        LogLedger();
        // A vGPU (or a PF's VFs) set aside for sleep is where it should be.
        var aside = plan.Where(a => a.Blocked == BlockReason.Asleep).Select(a => a.Uuid)
            .Concat(functionPlan.Where(a => a.Blocked == BlockReason.Asleep).Select(a => a.Address)).ToHashSet(StringComparer.Ordinal);
        var degraded = view.Error.Length > 0 || ledger.SaveError.Length > 0 || observed.Blind is not null || observed.Sriov.Blind is not null
            || vgpus.Any(v => v.Declared && v.State != VGpuState.Active && !aside.Contains(v.Uuid))
            || functions.Any(f => f.Declared && f.State != VGpuState.Active && !aside.Contains(f.Address));
        var snapshot = new StatusSnapshot(
            degraded ? DaemonState.Degraded : daemonState,
            view.Error,
            view.Files,
            view.State?.Settings ?? Settings.Default,
            time.GetUtcNow(),
            vgpus,
            observed.Parents,
            plan,
            ledger.SaveError,
            Blind: observed.Blind ?? observed.Sriov.Blind ?? "") { Functions = functions, FunctionPlan = functionPlan };
        return Publish(_ => snapshot with { SleepOrNull = _sleep }, result);
    }

    /// <summary>Makes the next snapshot from the current one, numbers it, and announces it, as one step.</summary>
    private StatusSnapshot Publish(Func<StatusSnapshot, StatusSnapshot> change, PassResult? result)
    {
        lock (_publishing)
        {
            var next = change(_current) with { Generation = ++_generation };
            _current = next;
            Changed?.Invoke(next, result);
            return next;
        }
    }

    /// <summary>
    /// Devices whose remove is waiting in the kernel for a VM to let go: sysfs has already unlisted
    /// them, but they exist until the VM closes them, so they are reported as removing.
    /// </summary>
    private IReadOnlyList<VGpuStatus> WithStuckRemoves(IReadOnlyList<VGpuStatus> vgpus)
    {
        var listed = vgpus.Select(v => v.Uuid).ToHashSet(StringComparer.Ordinal);
        var stuck = applier.StuckRemoves.Where(a => !listed.Contains(a.Uuid) && a.Observed is not null).Select(a =>
            new VGpuStatus(a.Uuid, a.Desired?.Name ?? "", a.Observed!.Type, a.Observed.Parent, VGpuState.Removing,
                "the kernel has not finished removing it (is a VM still holding the device?); it goes once released",
                Declared: false, ledger.Owned.Contains(a.Uuid), InUse: true, a.Observed.SysfsPath, Source: "")).ToList();
        return stuck.Count == 0 ? vgpus : vgpus.Concat(stuck).OrderBy(v => v.Uuid, StringComparer.Ordinal).ToList();
    }

    private void LogPass(string trigger, PassResult result, StatusSnapshot snapshot)
    {
        // A vGPU that stays blocked is reported when it becomes blocked, not on every pass.
        var now = snapshot.VGpus.Where(v => v.State is VGpuState.Blocked or VGpuState.Failed or VGpuState.Removing)
            .ToDictionary(v => v.Uuid, v => (v.State, v.LastError), StringComparer.Ordinal);
        foreach (var v in snapshot.VGpus)
        {
            if (now.TryGetValue(v.Uuid, out var entry) && (!_lastLogged.TryGetValue(v.Uuid, out var before) || before != entry)
                && v.State != VGpuState.Failed) // failures were already logged by the applier
                logger.LogWarning("vGPU {Uuid} (type {Type}, parent {Parent}) is {State}: {Reason}", v.Uuid, v.Type, v.Parent,
                    v.StateName, v.LastError);
        }
        _lastLogged = now;

        foreach (var f in snapshot.Functions.Where(f => f.State is VGpuState.Blocked or VGpuState.Removing))
            if (!_lastLoggedFunctions.TryGetValue(f.Address, out var before) || before != f.LastError)
                logger.LogWarning("SR-IOV PF {Address} is {State}: {Reason}", f.Address, f.StateName, f.LastError);
        _lastLoggedFunctions = snapshot.Functions.Where(f => f.State is VGpuState.Blocked or VGpuState.Removing)
            .ToDictionary(f => f.Address, f => f.LastError, StringComparer.Ordinal);

        // "Created" counts VFs enabled or bound per PF, "removed" PFs whose VFs were disabled.
        if (result.Created + result.Removed + result.Failed == 0)
            logger.LogInformation("Pass ({Trigger}): nothing to change; {Summary}", trigger, snapshot.Summary);
        else
            logger.LogInformation("Pass ({Trigger}): created {Created}, removed {Removed}, failed {Failed}; {Summary}",
                trigger, result.Created, result.Removed, result.Failed, snapshot.Summary);
    }
}
