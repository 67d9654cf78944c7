using Gvtd.DesiredState;
using Gvtd.Sysfs;

namespace Gvtd.Planning;

/// <summary>
/// Decides what to do, given what is wanted, what is there, what gvtd owns and the prune policy.
/// Pure and deterministic: no I/O, no clock. Removals come first so they free capacity for creates.
/// </summary>
public static class Planner
{
    /// <param name="asleep">The machine is about to sleep or sleeping (logind's PrepareForSleep).</param>
    public static IReadOnlyList<PlannedAction> Plan(
        DesiredStateSnapshot desired, ObservedState observed, IReadOnlySet<string> owned, bool asleep = false)
    {
        // Could not list the devices: what exists is unknown, so nothing is created or removed.
        if (observed.Blind is { } blind)
            return InWriteOrder([.. desired.VGpus.Select(want => new PlannedAction(ActionKind.Blocked, want.Uuid, want.Type, want.Parent,
                $"gvtd {blind}; nothing is created or removed until it can see the devices again", want, Blocked: BlockReason.Unseen))]);
        if (asleep && desired.Settings.Sleep == SleepPolicy.RemoveIdle)
            return InWriteOrder(PlanAside(desired, observed, owned));
        var prune = desired.Settings.Prune;
        var actions = new List<PlannedAction>();
        var capacity = new Capacity();

        // Removals first: what they free is there for the creates of the same plan.
        var declared = desired.VGpus.Select(v => v.Uuid).ToHashSet();
        foreach (var have in observed.Devices.Values.Where(d => !declared.Contains(d.Uuid)))
        {
            var action = PlanUndeclared(have, owned.Contains(have.Uuid), prune);
            if (action.Kind == ActionKind.Remove && observed.Parents.TryGetValue(have.Parent, out var parent))
                capacity.GiveBack(parent, have.Type);
            actions.Add(action);
        }

        // Then what exists, in the order the applier will write it: a recreate frees its old type
        // before it takes the new one, so it may use only what is free by then. Last the creates,
        // in the order they are declared (the first declared gets the last room).
        foreach (var want in desired.VGpus.Where(w => observed.Devices.ContainsKey(w.Uuid)).OrderBy(w => w.Parent, StringComparer.Ordinal).ThenBy(w => w.Uuid, StringComparer.Ordinal))
            actions.Add(PlanExisting(want, observed.Devices[want.Uuid], observed, owned, prune, capacity));
        foreach (var want in desired.VGpus.Where(w => !observed.Devices.ContainsKey(w.Uuid)))
            actions.Add(PlanCreate(want, observed, capacity));

        return InWriteOrder(actions);
    }

    /// <summary>The applier writes in this order; the capacity rules rely on it.</summary>
    private static List<PlannedAction> InWriteOrder(List<PlannedAction> actions) => actions
        .OrderBy(a => Order(a.Kind))
        .ThenBy(a => a.Parent, StringComparer.Ordinal)
        .ThenBy(a => a.Uuid, StringComparer.Ordinal)
        .ToList();

    /// <summary>
    /// Around sleep (settings.sleep: remove-idle): what gvtd created and no VM holds steps aside, as a
    /// GVT-g host cannot suspend while a vGPU exists; the declared ones come back once the machine
    /// is awake (the next ordinary plan). A device a VM holds, or whose use gvtd cannot see, stays,
    /// as always; what gvtd did not create is never touched.
    /// </summary>
    private static List<PlannedAction> PlanAside(DesiredStateSnapshot desired, ObservedState observed, IReadOnlySet<string> owned)
    {
        var actions = new List<PlannedAction>();
        var declared = desired.VGpus.ToDictionary(v => v.Uuid, StringComparer.Ordinal);
        foreach (var have in observed.Devices.Values)
        {
            var want = declared.GetValueOrDefault(have.Uuid);
            if (!owned.Contains(have.Uuid))
                actions.Add(new(ActionKind.Ignore, have.Uuid, have.Type, have.Parent, "not created by gvtd, so it stays through sleep", want, have));
            else if (have.InUse)
                actions.Add(new(ActionKind.Keep, have.Uuid, have.Type, have.Parent, $"{Holder(have)}, so it stays through sleep; the suspend may fail because of it", want, have, BlockReason.InUse));
            else
                actions.Add(new(ActionKind.Remove, have.Uuid, have.Type, have.Parent, "set aside for sleep (settings.sleep: remove-idle); recreated on resume", want, have));
        }
        foreach (var want in desired.VGpus.Where(w => !observed.Devices.ContainsKey(w.Uuid)))
            actions.Add(new(ActionKind.Blocked, want.Uuid, want.Type, want.Parent, "set aside while the machine sleeps; recreated on resume", want, Blocked: BlockReason.Asleep));
        return actions;
    }

    private static PlannedAction PlanCreate(DesiredVGpu want, ObservedState observed, Capacity capacity)
    {
        if (observed.Unreadable.Contains(want.Uuid))
            return new(ActionKind.Blocked, want.Uuid, want.Type, want.Parent,
                "the kernel lists this device but gvtd cannot read its sysfs entry; it is left as it is", want, Blocked: BlockReason.Unseen);
        var (why, text) = WhyCannotCreate(want, observed, capacity);
        return why == BlockReason.None
            ? new(ActionKind.Create, want.Uuid, want.Type, want.Parent, "declared but not present", want)
            : new(ActionKind.Blocked, want.Uuid, want.Type, want.Parent, text, want, Blocked: why);
    }

    private static PlannedAction PlanExisting(DesiredVGpu want, MdevDevice have, ObservedState observed,
        IReadOnlySet<string> owned, PrunePolicy prune, Capacity capacity)
    {
        if (have.Parent == want.Parent && have.Type == want.Type)
            return new(ActionKind.Keep, want.Uuid, want.Type, want.Parent, "present as declared", want, have);

        var mismatch = $"exists as {have.Type} on {have.Parent}, declared as {want.Type} on {want.Parent}";
        if (have.InUse)
            return new(ActionKind.Blocked, want.Uuid, want.Type, want.Parent, $"{mismatch}; {Holder(have)}, will recreate once it is released", want, have, BlockReason.InUse);
        if (!owned.Contains(have.Uuid) && prune != PrunePolicy.All)
            return new(ActionKind.Blocked, want.Uuid, want.Type, want.Parent, $"{mismatch}; gvtd did not create it, so it is left alone (remove it by hand, or set prune: all)", want, have, BlockReason.NotOwned);
        // Recreating destroys the old device: only do it when the new one can be made right away,
        // counting what the removal frees.
        observed.Parents.TryGetValue(have.Parent, out var oldParent);
        if (oldParent is not null) capacity.GiveBack(oldParent, have.Type);
        var (why, text) = WhyCannotCreate(want, observed, capacity);
        if (why == BlockReason.None)
            return new(ActionKind.Recreate, want.Uuid, want.Type, want.Parent, mismatch, want, have);
        if (oldParent is not null) capacity.Retake(oldParent, have.Type);
        return new(ActionKind.Blocked, want.Uuid, want.Type, want.Parent, $"{mismatch}; cannot recreate yet: {text}", want, have, why);
    }

    private static PlannedAction PlanUndeclared(MdevDevice have, bool isOwned, PrunePolicy prune)
    {
        var wouldRemove = prune == PrunePolicy.All || (prune == PrunePolicy.Owned && isOwned);
        if (!wouldRemove)
        {
            var why = prune == PrunePolicy.None ? "not declared; kept because prune is none" : "not declared; not created by gvtd, so left alone";
            return new(ActionKind.Ignore, have.Uuid, have.Type, have.Parent, why, Observed: have);
        }
        if (have.InUse)
            return new(ActionKind.Blocked, have.Uuid, have.Type, have.Parent, $"no longer declared; {Holder(have)}, will remove once it is released", Observed: have, Blocked: BlockReason.InUse);
        var reason = isOwned ? "no longer declared (created by gvtd)" : "not declared (prune: all)";
        return new(ActionKind.Remove, have.Uuid, have.Type, have.Parent, reason, Observed: have);
    }

    /// <summary>Who holds a device that is not known to be free, in words; what to grant when gvtd cannot see.</summary>
    public static string Holder(MdevDevice device) => device.Use == DeviceUse.Held ? "in use by a VM" : UnseenHolder("it");

    /// <summary>Why gvtd cannot know whether <paramref name="what"/> is held, and what to grant so it can.</summary>
    public static string UnseenHolder(string what) =>
        $"gvtd cannot tell whether a VM holds {what}: other processes' /proc/PID/fd are hidden from it "
        + "(grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, and do not mount /proc with hidepid)";

    private static (BlockReason, string) WhyCannotCreate(DesiredVGpu want, ObservedState observed, Capacity capacity)
    {
        if (!observed.Parents.TryGetValue(want.Parent, out var parent))
            return (BlockReason.ParentAbsent, $"parent {want.Parent} is not present (driver not loaded yet, or no such device); will create when it appears");
        if (parent.FindType(want.Type) is not { } type)
        {
            var known = parent.Types.Count == 0 ? "none" : string.Join(", ", parent.Types.Select(t => t.Id));
            return (BlockReason.UnknownType, $"parent {want.Parent} has no type {want.Type} (available: {known})");
        }
        return capacity.TryTake(parent, type) is { } full ? (BlockReason.NoCapacity, full) : (BlockReason.None, "");
    }

    private static int Order(ActionKind kind) => kind switch
    {
        ActionKind.Remove => 0,
        ActionKind.Recreate => 1,
        ActionKind.Create => 2,
        ActionKind.Blocked => 3,
        ActionKind.Keep => 4,
        _ => 5,
    };
}
