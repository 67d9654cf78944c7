using Gvtd.Contract;
using Gvtd.DesiredState;
using Gvtd.Ownership;
using Gvtd.Planning;
using Gvtd.Reconcile;
using Gvtd.Sysfs;

namespace Gvtd.Commands;

/// <summary>
/// What callers outside the daemon may ask for: a pass, a reload, declaring and dropping vGPUs.
/// Arguments get the same checks as the YAML file, and a request that cannot succeed is refused
/// before anything is written. Runs off the bus thread (it reads sysfs and writes files).
/// </summary>
public sealed class ManagerCommands(DesiredStateStore desired, ManagedDeclarations managed, SysfsReader reader,
    OwnershipLedger ledger, PlanPreview preview, ReconcileWorker worker)
{
    public Task<PassResult> ReconcileAsync() => worker.RequestPassAsync("Reconcile request", reload: false);

    public async Task<PassResult> ReloadAsync()
    {
        var result = await worker.RequestPassAsync("Reload request", reload: true);
        if (result.ConfigError.Length > 0)
            throw new CommandException(CommandError.InvalidConfig,
                $"the desired state is invalid and nothing was changed; fix it and reload again: {result.ConfigError}");
        return result;
    }

    /// <summary>Anyone may ask, so concurrent callers share one read (PlanPreview).</summary>
    public async Task<IReadOnlyList<PlannedAction>> PlanAsync() => (await PreviewAsync()).VGpus;

    public async Task<IReadOnlyList<FunctionAction>> PlanFunctionsAsync() => (await PreviewAsync()).Functions;

    /// <summary>The shared read (PlanPreview); one that has not returned in time is told as such, with its own error.</summary>
    private async Task<Preview> PreviewAsync()
    {
        try
        {
            return await preview.NowAsync();
        }
        catch (PreviewTimeoutException e)
        {
            throw new CommandException(CommandError.CannotKnow, e.Message);
        }
    }

    /// <summary>Declares a vGPU in gvtd's own drop-in file and runs a pass; returns its UUID.</summary>
    public async Task<string> AddAsync(string uuidText, string type, string parentText, bool runtime)
    {
        var (uuid, parent) = CheckedRequest(uuidText, type, parentText);

        // The check and the write are one step: a second request for the same UUID waits, then
        // finds the first one's declaration on disk.
        desired.Change(now =>
        {
            var state = ValidState(now);
            // Plan as if it were declared: refuse what could never be created, but accept an absent
            // parent (its driver may simply not be loaded yet).
            var (plan, candidate) = PlanWith(state, reader.Read(), uuid, type, parent);
            var action = plan.First(a => a.Uuid == uuid && a.Desired == candidate);
            switch (action.Blocked)
            {
                case BlockReason.UnknownType: throw InvalidArgs(action.Reason);
                case BlockReason.NoCapacity: throw new CommandException(CommandError.NoCapacity, action.Reason);
                case BlockReason.NotOwned or BlockReason.InUse:
                    throw new CommandException(action.Blocked == BlockReason.InUse ? CommandError.InUse : CommandError.NotOwned,
                        $"a device with UUID {uuid} already exists: {action.Reason}");
            }
            managed.Add(state, uuid, type, parent, null, runtime);
            return true;
        });
        await worker.RequestPassAsync($"AddVGpu {uuid}", reload: true);
        return uuid;
    }

    /// <summary>
    /// What the next pass would do were this vGPU declared too, without declaring it: what a client
    /// shows before it asks AddVGpu (an empty UUID: one is made, and the plan names it). Anyone may
    /// ask: the read is the one Plan callers share, and only the planning is this call's own.
    /// </summary>
    public async Task<IReadOnlyList<PlannedAction>> PreviewAddAsync(string uuidText, string type, string parentText)
    {
        var (uuid, parent) = CheckedRequest(uuidText, type, parentText);
        var now = await PreviewAsync();
        if (now is not { State: { } state, Observed: { } observed })
            throw new CommandException(CommandError.InvalidConfig, "gvtd has no valid desired state yet; fix the files first");
        return PlanWith(state, observed, uuid, type, parent).Plan;
    }

    /// <summary>The request's UUID (made when empty) and normalised parent, or InvalidArgs saying what is wrong.</summary>
    private static (string Uuid, string Parent) CheckedRequest(string uuidText, string type, string parentText)
    {
        var uuid = uuidText.Length == 0 ? Guid.NewGuid().ToString("D")
            : Identifiers.NormaliseUuid(uuidText) ?? throw InvalidArgs($"{UserText.Quote(uuidText)} is not a UUID (8-4-4-4-12 hex digits), or pass an empty string to have one made");
        if (Identifiers.CheckType(type) is { } typeError) throw InvalidArgs(typeError);
        if (!Identifiers.TryNormaliseParent(parentText, out var parent, out var parentError)) throw InvalidArgs("parent: " + parentError);
        return (uuid, parent);
    }

    /// <summary>The plan with the candidate declared as well; a UUID already declared is refused.</summary>
    private (IReadOnlyList<PlannedAction> Plan, DesiredVGpu Candidate) PlanWith(DesiredStateSnapshot state, ObservedState observed, string uuid, string type, string parent)
    {
        if (state.VGpus.FirstOrDefault(v => v.Uuid == uuid) is { } existing)
            throw InvalidArgs($"vGPU {uuid} is already declared at {existing.Source}");
        var candidate = new DesiredVGpu(uuid, type, parent, null, new SourceLocation("(request)", 0, 0));
        return (Planner.Plan(state with { VGpus = [.. state.VGpus, candidate] }, observed, ledger.Owned), candidate);
    }

    /// <summary>Drops a declaration gvtd's own file holds, and runs a pass (which removes the device).</summary>
    public async Task RemoveAsync(string uuidText)
    {
        var uuid = Identifiers.NormaliseUuid(uuidText) ?? throw InvalidArgs($"{UserText.Quote(uuidText)} is not a UUID");
        desired.Change(now =>
        {
            var state = ValidState(now);
            var declaration = state.VGpus.FirstOrDefault(v => v.Uuid == uuid)
                ?? throw new CommandException(CommandError.NoSuchVGpu, $"no vGPU {uuid} is declared (ListVGpus shows the declared ones)");
            if (!managed.IsManaged(declaration.Source.File))
                throw new CommandException(CommandError.NotOwned,
                    $"vGPU {uuid} is declared in {declaration.Source.File} line {declaration.Source.Line}; edit that file to remove it");
            if (reader.Read(freshUsers: true).Devices.TryGetValue(uuid, out var device) && device.InUse)
                throw new CommandException(CommandError.InUse, device.Use == DeviceUse.Held
                    ? $"vGPU {uuid} is in use by a VM; shut the VM down, then remove it"
                    : $"vGPU {uuid} is not removed: {Planner.Holder(device)}");
            managed.Remove(state, uuid, declaration.Source.File);
            return true;
        });
        await worker.RequestPassAsync($"RemoveVGpu {uuid}", reload: true);
    }

    private static DesiredStateSnapshot ValidState(DesiredStateView view) =>
        view.State is { } state && view.Error.Length == 0 ? state
        : throw new CommandException(CommandError.InvalidConfig, $"the desired state has errors; fix them first: {view.Error}");

    private static CommandException InvalidArgs(string message) => new(CommandError.InvalidArgs, message);
}
