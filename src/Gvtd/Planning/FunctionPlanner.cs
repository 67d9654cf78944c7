using Gvtd.DesiredState;
using Gvtd.Sysfs;

namespace Gvtd.Planning;

/// <summary>
/// Decides what to do with SR-IOV physical functions: pure, like <see cref="Planner"/>. The kernel's
/// rules shape it: the VF count changes only through 0, so any change removes every VF of the PF
/// and waits until none is held (or possibly held); without a PF driver nothing can be written, so
/// that waits like an absent mdev parent; a VF is never taken from a driver that is not the declared one,
/// and one on a host driver is in use. Only PFs <see cref="Scope"/> watches are ever changed.
/// </summary>
public static class FunctionPlanner
{
    /// <summary>The PFs gvtd looks at for this declaration and ledger: for the reader (what to read) and for <see cref="Plan"/> (what to touch).</summary>
    public static FunctionScope Scope(DesiredStateSnapshot desired, IReadOnlySet<string> owned) =>
        new(desired.Functions.Select(f => f.Address).Concat(owned).ToHashSet(StringComparer.Ordinal), desired.Settings.Prune == PrunePolicy.All);

    /// <param name="setUpBefore">
    /// Whether gvtd has already set this PF up for exactly this declaration (<c>OncePerDeclaration</c>):
    /// then a PF that still differs is blocked instead of taken through 0 again (never churn).
    /// </param>
    public static IReadOnlyList<FunctionAction> Plan(DesiredStateSnapshot desired, ObservedFunctions observed, IReadOnlySet<string> owned, bool asleep = false,
        Func<DesiredFunction, bool>? setUpBefore = null)
    {
        var actions = new List<FunctionAction>();
        if (observed.Blind is { } blind)
            return [.. desired.Functions.Select(f => new FunctionAction(FunctionActionKind.Blocked, f.Address,
                $"gvtd {blind}; no VF count is changed until it can see the devices again", f, Blocked: BlockReason.Unseen))];
        var settings = desired.Settings;
        var aside = asleep && settings.Sleep == SleepPolicy.RemoveIdle;
        var declared = desired.Functions.ToDictionary(f => f.Address, StringComparer.Ordinal);
        var scope = Scope(desired, owned);
        foreach (var pf in observed.Functions.Values.Where(p => !declared.ContainsKey(p.Address) && p.NumVfs > 0))
            actions.Add(scope.Watches(pf.Address, pf.PciClass) ? PlanUndeclared(pf, owned.Contains(pf.Address), settings.Prune, aside)
                : Unwatched(pf.Address, pf.PciClass, pf.NumVfs, settings.Prune, pf));
        foreach (var pf in observed.Unwatched.Where(p => !declared.ContainsKey(p.Address) && !observed.Functions.ContainsKey(p.Address)))
            actions.Add(Unwatched(pf.Address, pf.PciClass, pf.NumVfs, settings.Prune, null));
        foreach (var want in desired.Functions)
        {
            var pf = observed.Functions.GetValueOrDefault(want.Address);
            actions.Add(aside && pf is not null ? PlanAside(want, pf, owned.Contains(want.Address))
                : PlanDeclared(want, pf, owned.Contains(want.Address), settings.Prune, setUpBefore?.Invoke(want) ?? false));
        }
        return [.. actions.OrderBy(a => a.Address, StringComparer.Ordinal)];
    }

    /// <summary>
    /// A PF gvtd does not look at (<see cref="FunctionScope"/>): always left alone, and the plan says
    /// why. A display controller is only outside the scope because prune is not all and gvtd did not enable its VFs.
    /// </summary>
    private static FunctionAction Unwatched(string address, int? pciClass, int vfs, PrunePolicy prune, PhysicalFunction? pf) =>
        new(FunctionActionKind.Ignore, address, FunctionScope.IsDisplayController(pciClass)
            ? prune == PrunePolicy.None ? "not declared; its VFs are kept because prune is none" : "not declared; gvtd did not enable its VFs, so it leaves them alone"
            : $"not declared, and not a display controller but {FunctionScope.Describe(pciClass)}: its {vfs} VF(s) are the host's, and gvtd never changes it, whatever prune says (declare it under sriov: to have gvtd manage it)",
            Observed: pf);

    /// <summary>
    /// A VF bound to a driver that is neither vfio-pci nor the declared one (a NIC's iavf, i915 taking
    /// VFs by autoprobe) is the host's: in use as surely as one a VM holds, and gvtd did not bind it.
    /// </summary>
    private static VirtualFunction? OnHostDriver(PhysicalFunction pf, string? declaredDriver) =>
        pf.Vfs.FirstOrDefault(v => v.Driver.Length > 0 && v.Driver != DesiredFunction.DefaultDriver && v.Driver != declaredDriver);

    private static string HostUse(VirtualFunction vf) => $"VF {vf.Address} is bound to {vf.Driver}, a host driver, so the host uses it as surely as a VM would";

    private static FunctionAction PlanUndeclared(PhysicalFunction pf, bool isOwned, PrunePolicy prune, bool aside)
    {
        var wouldDisable = prune == PrunePolicy.All || (prune == PrunePolicy.Owned && isOwned);
        if (!wouldDisable)
            return new(FunctionActionKind.Ignore, pf.Address, prune == PrunePolicy.None
                ? "not declared; its VFs are kept because prune is none" : "not declared; gvtd did not enable its VFs, so it leaves them alone", Observed: pf);
        if (pf.AnyVfInUse)
            return new(FunctionActionKind.Blocked, pf.Address, $"no longer declared; {Holder(pf)}, so its VFs stay until it is released", Observed: pf, Blocked: BlockReason.InUse);
        if (OnHostDriver(pf, null) is { } taken)
            return new(FunctionActionKind.Blocked, pf.Address, $"{(isOwned ? "no longer declared" : "not declared")}; {HostUse(taken)}: its VFs stay (unbind it to have them disabled: echo {taken.Address} > /sys/bus/pci/drivers/{taken.Driver}/unbind)",
                Observed: pf, Blocked: BlockReason.InUse);
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
        if (OnHostDriver(pf, want.Driver) is { } taken)
            return new(FunctionActionKind.Keep, want.Address, $"{HostUse(taken)}, so its VFs stay through sleep; the suspend may fail because of it", want, pf, BlockReason.InUse);
        return new(FunctionActionKind.Disable, want.Address, "set aside for sleep (settings.sleep: remove-idle); enabled again on resume", want, pf);
    }

    private static FunctionAction PlanDeclared(DesiredFunction want, PhysicalFunction? pf, bool isOwned, PrunePolicy prune, bool setUpBefore)
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

        var (differs, keeps) = pf.NumVfs != want.Vfs ? ($"has {pf.NumVfs} VFs, declared {want.Vfs}", $"the driver keeps {pf.NumVfs} VFs for the declared {want.Vfs}")
            : pf.NumVfs > 0 && ProvisionDifference(want, pf) is { } diff ? diff : (null, null);
        if (differs is not null)
        {
            if (pf.NumVfs == 0)
                return new(FunctionActionKind.Enable, want.Address, $"{want.Vfs} VFs declared, none enabled", want, pf);
            if (!isOwned && prune != PrunePolicy.All)
                return Blocked(BlockReason.NotOwned, $"{differs}; gvtd did not enable these VFs, so it leaves them alone (write 0 to sriov_numvfs by hand, or set prune: all)");
            if (pf.AnyVfInUse)
                return Blocked(BlockReason.InUse, $"{differs}; the kernel changes the count only through 0, which removes every VF, and {Holder(pf)}: waits until it is released");
            if (OnHostDriver(pf, want.Driver) is { } taken)
                return Blocked(BlockReason.InUse, $"{differs}; the kernel changes the count only through 0, which removes every VF, and {HostUse(taken)} (unbind it: echo {taken.Address} > /sys/bus/pci/drivers/{taken.Driver}/unbind)");
            // Never churn: right after gvtd set the PF up for this declaration it still differs, so
            // the driver keeps something else; another trip through 0 would only destroy the VFs again.
            if (setUpBefore)
                return Blocked(BlockReason.DriverKeeps, $"{keeps}; gvtd set these VFs up once for this declaration and does not take them through 0 again until it changes "
                    + "(declare what the driver keeps, or write 0 to sriov_numvfs to have gvtd set them up afresh)");
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

    /// <summary>The first value a VF's driver keeps that is not the declared one (as the driver keeps it: 20 is 020), said two ways.</summary>
    private static (string Differs, string Keeps)? ProvisionDifference(DesiredFunction want, PhysicalFunction pf)
    {
        if (want.Provision.Count == 0 || pf.Provisioning is not { } provisioning) return null;
        foreach (var vf in pf.Vfs)
        {
            var now = vf.Index < provisioning.Values.Count ? provisioning.Values[vf.Index] : null;
            foreach (var (name, value) in want.Provision)
                if (now is not null && now.TryGetValue(name, out var have) && have.Length > 0 && !ObservedProvisioning.SameValue(have, value))
                    return ($"VF {vf.Number} has {name} {have}, declared {value}", $"the driver keeps {name} {have} for the declared {value} (VF {vf.Number})");
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
