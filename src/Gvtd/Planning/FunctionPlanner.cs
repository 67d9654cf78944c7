using Gvtd.DesiredState;
using Gvtd.Sysfs;

namespace Gvtd.Planning;

/// <summary>
/// Decides what to do with SR-IOV physical functions: pure, like <see cref="Planner"/>. The kernel's
/// rules shape it: the VF count changes only through 0, so any change removes every VF of the PF
/// and waits until none is held (or possibly held); without a PF driver nothing can be written, so
/// that waits like an absent mdev parent; a VF is never taken from a driver that is not the declared one.
/// </summary>
public static class FunctionPlanner
{
    public static IReadOnlyList<FunctionAction> Plan(DesiredStateSnapshot desired, ObservedFunctions observed, IReadOnlySet<string> owned, bool asleep = false)
    {
        var actions = new List<FunctionAction>();
        if (observed.Blind is { } blind)
            return [.. desired.Functions.Select(f => new FunctionAction(FunctionActionKind.Blocked, f.Address,
                $"gvtd {blind}; no VF count is changed until it can see the devices again", f, Blocked: BlockReason.Unseen))];
        var settings = desired.Settings;
        var aside = asleep && settings.Sleep == SleepPolicy.RemoveIdle;
        var declared = desired.Functions.ToDictionary(f => f.Address, StringComparer.Ordinal);
        foreach (var pf in observed.Functions.Values.Where(p => !declared.ContainsKey(p.Address) && p.NumVfs > 0))
            actions.Add(PlanUndeclared(pf, owned.Contains(pf.Address), settings.Prune, aside));
        foreach (var want in desired.Functions)
        {
            var pf = observed.Functions.GetValueOrDefault(want.Address);
            actions.Add(aside && pf is not null ? PlanAside(want, pf, owned.Contains(want.Address)) : PlanDeclared(want, pf, owned.Contains(want.Address), settings.Prune));
        }
        return [.. actions.OrderBy(a => a.Address, StringComparer.Ordinal)];
    }

    private static FunctionAction PlanUndeclared(PhysicalFunction pf, bool isOwned, PrunePolicy prune, bool aside)
    {
        var wouldDisable = prune == PrunePolicy.All || (prune == PrunePolicy.Owned && isOwned);
        if (!wouldDisable)
            return new(FunctionActionKind.Ignore, pf.Address, prune == PrunePolicy.None
                ? "not declared; its VFs are kept because prune is none" : "not declared; gvtd did not enable its VFs, so it leaves them alone", Observed: pf);
        if (pf.AnyVfInUse)
            return new(FunctionActionKind.Blocked, pf.Address, $"no longer declared; {Holder(pf)}, so its VFs stay until it is released", Observed: pf, Blocked: BlockReason.InUse);
        return new(FunctionActionKind.Disable, pf.Address, isOwned ? "no longer declared (gvtd enabled its VFs)" : "not declared (prune: all)", Observed: pf);
    }

    /// <summary>
    /// Around sleep: i915's SR-IOV PF hangs a suspend while VFs exist, so a PF whose VFs gvtd enabled
    /// and no VM holds goes to 0 VFs; the next ordinary plan after resume enables them again.
    /// </summary>
    private static FunctionAction PlanAside(DesiredFunction want, PhysicalFunction pf, bool isOwned)
    {
        if (pf.NumVfs == 0)
            return new(FunctionActionKind.Blocked, want.Address, "VFs set aside while the machine sleeps; enabled again on resume", want, pf, BlockReason.Asleep);
        if (!isOwned)
            return new(FunctionActionKind.Keep, want.Address, "gvtd did not enable these VFs, so they stay through sleep", want, pf);
        if (pf.AnyVfInUse)
            return new(FunctionActionKind.Keep, want.Address, $"{Holder(pf)}, so its VFs stay through sleep; the suspend may fail because of it", want, pf, BlockReason.InUse);
        return new(FunctionActionKind.Disable, want.Address, "set aside for sleep (settings.sleep: remove-idle); enabled again on resume", want, pf);
    }

    private static FunctionAction PlanDeclared(DesiredFunction want, PhysicalFunction? pf, bool isOwned, PrunePolicy prune)
    {
        FunctionAction Blocked(BlockReason why, string text) => new(FunctionActionKind.Blocked, want.Address, text, want, pf, why);

        if (pf is null)
            return Blocked(BlockReason.ParentAbsent, $"no SR-IOV device {want.Address} (not present, or its driver has not enabled SR-IOV yet); will set it up when it appears");
        if (pf.Driver.Length == 0)
            return Blocked(BlockReason.ParentAbsent, $"no driver is bound to {want.Address} yet, and the kernel changes no VF count without one; will set it up when the driver binds");
        if (want.Vfs > pf.TotalVfs)
            return Blocked(BlockReason.NoCapacity, $"{want.Vfs} VFs declared, but {want.Address} offers {pf.TotalVfs} (sriov_totalvfs{(pf.Driver is "i915" or "xe" ? $"; {pf.Driver}'s max_vfs can raise it" : "")})");
        if (ProvisionProblem(want, pf) is { } provisionError)
            return Blocked(BlockReason.UnknownType, provisionError);

        var differs = pf.NumVfs != want.Vfs ? $"has {pf.NumVfs} VFs, declared {want.Vfs}"
            : pf.NumVfs > 0 && ProvisionDifference(want, pf) is { } diff ? diff : null;
        if (differs is not null)
        {
            if (pf.NumVfs == 0)
                return new(FunctionActionKind.Enable, want.Address, $"{want.Vfs} VFs declared, none enabled", want, pf);
            if (!isOwned && prune != PrunePolicy.All)
                return Blocked(BlockReason.NotOwned, $"{differs}; gvtd did not enable these VFs, so it leaves them alone (write 0 to sriov_numvfs by hand, or set prune: all)");
            if (pf.AnyVfInUse)
                return Blocked(BlockReason.InUse, $"{differs}; the kernel changes the count only through 0, which removes every VF, and {Holder(pf)}: waits until it is released");
            return new(want.Vfs == 0 ? FunctionActionKind.Disable : FunctionActionKind.Reset, want.Address, $"{differs}; through 0 VFs, as the kernel requires", want, pf);
        }

        var foreign = pf.Vfs.FirstOrDefault(v => v.Driver.Length > 0 && v.Driver != want.Driver);
        if (foreign is not null)
            return Blocked(BlockReason.NotOwned, $"VF {foreign.Address} is bound to {foreign.Driver}, declared {want.Driver}; gvtd does not take a VF from another driver (unbind it: echo {foreign.Address} > /sys/bus/pci/drivers/{foreign.Driver}/unbind)");
        if (want.VGpuType is { } type && NvidiaProblem(type, pf) is { } nvidiaError)
            return Blocked(BlockReason.UnknownType, nvidiaError);
        var typeWrong = want.VGpuType is { } t ? pf.Vfs.Where(v => !NvidiaTypeMatches(t, v)).ToList() : [];
        var unbound = pf.Vfs.Where(v => v.Driver.Length == 0).Concat(typeWrong).DistinctBy(v => v.Address).ToList();
        // No write to a VF a VM holds (or may): one with no driver is so while its unbind waits for the VM, and the writes would wait on its device lock (docs/kernel/device-lock.md).
        if (unbound.FirstOrDefault(v => v.InUse) is { } held)
            return Blocked(BlockReason.InUse, typeWrong.Contains(held) ? $"VF {held.Address} does not carry vGPU type {want.VGpuType}, and {Holder(held)}"
                : $"VF {held.Address} has no driver, and {Holder(held)}: gvtd binds it once it is released (an unbind of it waits for its VM until then)");
        if (unbound.Count > 0)
            return new(FunctionActionKind.Bind, want.Address, $"VF {string.Join(", ", unbound.Select(v => v.Address))} not yet on {want.Driver}{(want.VGpuType is null ? "" : $" with vGPU type {want.VGpuType}")}", want, pf);
        return new(FunctionActionKind.Keep, want.Address, want.Vfs == 0 ? "no VFs, as declared" : $"{want.Vfs} VFs on {want.Driver}, as declared", want, pf);
    }

    /// <summary>A provisioning value the running driver does not offer, named with what it does offer.</summary>
    private static string? ProvisionProblem(DesiredFunction want, PhysicalFunction pf)
    {
        if (want.Provision.Count == 0) return null;
        if (pf.Provisioning is not { } provisioning)
            return $"provision is declared, but {pf.Driver} on {want.Address} offers no per-VF provisioning files gvtd knows of (it knows: {string.Join("; ", ProvisioningLayout.All.Select(l => l.Name))})";
        // Some drivers make the VF directories only once VFs exist: then the names are checked when they do.
        if (provisioning.Offered.Count == 0) return null;
        var unknown = want.Provision.Keys.Where(k => !provisioning.Offered.Contains(k)).ToList();
        return unknown.Count == 0 ? null
            : $"provision: {string.Join(", ", unknown)} {(unknown.Count == 1 ? "is" : "are")} not offered by {pf.Driver} ({provisioning.Layout.Name}); it offers: {string.Join(", ", provisioning.Offered)}";
    }

    private static string? ProvisionDifference(DesiredFunction want, PhysicalFunction pf)
    {
        if (want.Provision.Count == 0 || pf.Provisioning is not { } provisioning) return null;
        foreach (var vf in pf.Vfs)
        {
            var now = vf.Index < provisioning.Values.Count ? provisioning.Values[vf.Index] : null;
            foreach (var (name, value) in want.Provision)
                if (now is not null && now.TryGetValue(name, out var have) && have.Length > 0 && have != value)
                    return $"VF {vf.Number} has {name} {have}, declared {value}";
        }
        return null;
    }

    private static string? NvidiaProblem(string type, PhysicalFunction pf)
    {
        var vf = pf.Vfs.FirstOrDefault();
        if (vf is null) return null;
        if (vf.Nvidia is not { } nvidia)
            return $"vgpu-type is declared, but VF {vf.Address} has no nvidia/ directory (is NVIDIA's vGPU host driver bound to {pf.Address}?)";
        if (NvidiaTypeMatches(type, vf) || nvidia.Creatable.Any(c => c.Id == type || c.Name == type)) return null;
        return $"vgpu-type {type} is not offered by VF {vf.Address} (creatable now: {(nvidia.Creatable.Count == 0 ? "none" : string.Join(", ", nvidia.Creatable.Select(c => $"{c.Id} {c.Name}")))})";
    }

    /// <summary>The VF carries the type already: by ID, or by the name its creatable list gives that ID.</summary>
    public static bool NvidiaTypeMatches(string type, VirtualFunction vf) =>
        vf.Nvidia is { } n && n.Current != "0" && (n.Current == type || n.Creatable.Any(c => c.Id == n.Current && c.Name == type));

    private static string Holder(PhysicalFunction pf) => pf.Vfs.FirstOrDefault(v => v.Use == DeviceUse.Held) is { } held
        ? $"VF {held.Address} is in use by a VM"
        : Holder(pf.Vfs.First(v => v.InUse));

    private static string Holder(VirtualFunction vf) => vf.Use == DeviceUse.Held
        ? $"VF {vf.Address} is in use by a VM"
        : Planner.UnseenHolder($"VF {vf.Address}");
}
