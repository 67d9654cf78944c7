using CsCheck;
using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Sysfs;

namespace Gvtd.Tests.Sriov;

/// <summary>
/// The SR-IOV planner's promises, on thousands of generated hosts: three PFs with 0 to 4 VFs each,
/// every VF free, held or of unknown use, bound to vfio-pci, to nothing or to a host driver; any of
/// them declared with any count, owned or not, any prune policy, awake or about to sleep.
/// </summary>
public sealed class FunctionPlannerProperties
{
    private static readonly string[] Pfs = ["0000:00:02.0", "0000:03:00.0", "0000:41:00.0"];

    public sealed record Host(Dictionary<string, PhysicalFunction> Observed, List<DesiredFunction> Declared, HashSet<string> Owned,
        PrunePolicy Prune, bool Asleep)
    {
        public override string ToString() =>
            $"observed [{string.Join(", ", Observed.Values.Select(p => $"{p.Address}:{p.NumVfs}({string.Join("/", p.Vfs.Select(v => v.Use + ":" + v.Driver))})"))}], "
            + $"declared [{string.Join(", ", Declared.Select(d => $"{d.Address}={d.Vfs}"))}], owned [{string.Join(", ", Owned)}], prune {Prune}, asleep {Asleep}";
    }

    private static readonly Gen<VirtualFunction> Vfs =
        Gen.Select(Gen.Frequency((6, Gen.Const(DeviceUse.Free)), (2, Gen.Const(DeviceUse.Held)), (2, Gen.Const(DeviceUse.Unknown))),
            Gen.Frequency((6, Gen.Const("vfio-pci")), (2, Gen.Const("")), (1, Gen.Const("i915"))),
            (use, driver) => new VirtualFunction("", 0, "", driver, 7, use));

    private static Gen<T> Pick<T>(params T[] choices) => Gen.Int[0, choices.Length - 1].Select(i => choices[i]);

    /// <summary>A display controller, a NIC, an NVMe drive, an accelerator, or a class that could not be read.</summary>
    private static readonly Gen<int?> Classes = Pick<int?>(0x030000, 0x038000, 0x020000, 0x010802, 0x120000, null);

    private static readonly Gen<Host> Hosts =
        Gen.Select(Vfs.Array[0, 4].Array[Pfs.Length], Gen.Int[-1, 5].Array[Pfs.Length], Gen.Bool.Array[Pfs.Length], Gen.Enum<PrunePolicy>(), Gen.Bool,
            Classes.Array[Pfs.Length],
            (vfs, declared, owned, prune, asleep, classes) => new Host(
                Pfs.Select((pf, i) => new PhysicalFunction(pf, "/sys/devices/" + pf, "i915", 4, false,
                    [.. vfs[i].Select((v, n) => v with { Address = pf[..^1] + (n + 1), Index = n })], null, classes[i])).ToDictionary(p => p.Address),
                [.. Pfs.Select((pf, i) => (pf, declared[i])).Where(x => x.Item2 >= 0)
                    .Select(x => new DesiredFunction(x.pf, x.Item2, "vfio-pci", new Dictionary<string, string>(), null, null, new SourceLocation("f", 1, 1)))],
                [.. Pfs.Where((_, i) => owned[i])], prune, asleep));

    [Fact]
    public void Plans_keep_every_promise() => Hosts.Sample(host =>
    {
        var state = new DesiredStateSnapshot(Settings.Default with { Prune = host.Prune }, [], []) { Functions = host.Declared };
        var plan = FunctionPlanner.Plan(state, new ObservedFunctions(host.Observed, null), host.Owned, host.Asleep);
        foreach (var action in plan)
        {
            var pf = host.Observed[action.Address];
            var declared = host.Declared.FirstOrDefault(d => d.Address == action.Address);
            var removesVfs = action.Kind is FunctionActionKind.Disable or FunctionActionKind.Reset;
            // A count change removes every VF: never while one is held or may be.
            if (removesVfs && pf.AnyVfInUse) return false;
            // VFs someone else enabled are changed only with prune: all.
            if (removesVfs && !host.Owned.Contains(pf.Address) && host.Prune != PrunePolicy.All) return false;
            // Undeclared: only a disable, and only as prune says.
            if (declared is null && action.Kind is FunctionActionKind.Enable or FunctionActionKind.Reset or FunctionActionKind.Bind) return false;
            if (declared is null && removesVfs && host.Prune == PrunePolicy.None) return false;
            // gvtd looks only at what it was asked about: an undeclared PF it did not enable is
            // touched only with prune: all, and only if it is a display controller.
            if (declared is null && removesVfs && !host.Owned.Contains(pf.Address) && !FunctionScope.IsDisplayController(pf.PciClass)) return false;
            // A VF on a host driver (not vfio-pci, not the declared one) is in use: no count change.
            if (removesVfs && pf.Vfs.Any(v => v.Driver is not ("" or "vfio-pci") && v.Driver != declared?.Driver)) return false;
            // Enable only from 0; never more than the device offers; a VF on another driver is never taken.
            if (action.Kind == FunctionActionKind.Enable && pf.NumVfs != 0) return false;
            if (action.Kind is FunctionActionKind.Enable or FunctionActionKind.Reset && declared!.Vfs > pf.TotalVfs) return false;
            if (action.Kind == FunctionActionKind.Bind && pf.Vfs.Any(v => v.Driver is not ("" or "vfio-pci"))) return false;
            // Asleep: nothing is enabled or bound.
            if (host.Asleep && action.Kind is FunctionActionKind.Enable or FunctionActionKind.Reset or FunctionActionKind.Bind) return false;
            // Keep means as declared (awake), or staying through sleep.
            if (action.Kind == FunctionActionKind.Keep && !host.Asleep && declared is not null
                && (pf.NumVfs != declared.Vfs || pf.Vfs.Any(v => v.Driver != "vfio-pci"))) return false;
        }
        return plan.Select(a => a.Address).Distinct().Count() == plan.Count;
    }, iter: 5000);

    /// <summary>
    /// Progress, which the promises above do not ask (a planner that never enables anything keeps
    /// them all): awake, a declared PF that offers the count and whose VFs are free (none held or
    /// possibly held, none on another driver; gvtd's own, or prune: all, or none enabled yet) has the
    /// declared VFs on vfio-pci within a few rounds of plan and apply on a model of the kernel.
    /// </summary>
    [Fact]
    public void What_is_declared_offered_and_free_is_enabled_and_bound_within_a_few_rounds() => Hosts.Sample(host =>
    {
        var state = new DesiredStateSnapshot(Settings.Default with { Prune = host.Prune }, [], []) { Functions = host.Declared };
        var kernel = new Dictionary<string, PhysicalFunction>(host.Observed);
        var owned = new HashSet<string>(host.Owned);
        for (var round = 0; round < 3; round++)
        {
            var plan = FunctionPlanner.Plan(state, new ObservedFunctions(kernel, null), owned, asleep: false);
            if (!plan.Any(a => a.ChangesSomething)) break;
            foreach (var action in plan.Where(a => a.ChangesSomething))
            {
                var pf = kernel[action.Address];
                kernel[action.Address] = action.Kind switch
                {
                    // As the applier does: through 0, then the declared count, each VF bound to vfio-pci.
                    FunctionActionKind.Enable or FunctionActionKind.Reset => pf with
                    {
                        Vfs = [.. Enumerable.Range(0, action.WantedVfs).Select(n => new VirtualFunction(pf.Address[..^1] + (n + 1), n, "", "vfio-pci", 7, DeviceUse.Free))],
                    },
                    FunctionActionKind.Disable => pf with { Vfs = [] },
                    _ => pf with { Vfs = [.. pf.Vfs.Select(v => v.Driver.Length == 0 ? v with { Driver = "vfio-pci" } : v)] },
                };
                if (action.Kind is FunctionActionKind.Enable or FunctionActionKind.Reset) owned.Add(action.Address);
                if (action.Kind == FunctionActionKind.Disable && action.Desired is null) owned.Remove(action.Address);
            }
        }
        foreach (var want in host.Declared)
        {
            var before = host.Observed[want.Address];
            var free = !before.AnyVfInUse && before.Vfs.All(v => v.Driver is "" or "vfio-pci")
                && (before.NumVfs == 0 || before.NumVfs == want.Vfs || host.Owned.Contains(want.Address) || host.Prune == PrunePolicy.All);
            if (want.Vfs > before.TotalVfs || !free) continue;
            var after = kernel[want.Address];
            Assert.True(after.NumVfs == want.Vfs && after.Vfs.All(v => v.Driver == "vfio-pci"),
                $"{want.Address}: {want.Vfs} VFs declared, offered and free, but after three rounds it has {after.NumVfs} ({string.Join("/", after.Vfs.Select(v => v.Driver))})");
        }
    }, iter: 5000, print: h => h.ToString());

    /// <summary>How a driver keeps a value written to one of its provisioning files: any way at all.</summary>
    public enum Rewrite { AsWritten, AsNumber, RoundedUp, Constant, CountsWrites, Empty }

    public sealed record Driver(Dictionary<string, Rewrite> Rewrites, int AlignmentBits, int MaxVfs)
    {
        public override string ToString() => $"rewrites [{string.Join(", ", Rewrites.Select(r => $"{r.Key}:{r.Value}"))}], alignment 2^{AlignmentBits}, enables at most {MaxVfs} VFs";

        public string Keep(string name, string value, int write) => Rewrites.GetValueOrDefault(name) switch
        {
            Rewrite.AsNumber => ulong.TryParse(value, out var n) ? n.ToString() : value,
            Rewrite.RoundedUp => ulong.TryParse(value, out var n) ? (((n >> AlignmentBits) + ((n & ((1UL << AlignmentBits) - 1)) > 0 ? 1UL : 0)) << AlignmentBits).ToString() : value,
            Rewrite.Constant => "7",
            Rewrite.CountsWrites => (write + 1000).ToString(),
            Rewrite.Empty => "",
            _ => value,
        };
    }

    private static readonly string[] Names = ["exec_quantum_ms", "ggtt_quota", "preempt_timeout_us"];

    private static readonly Gen<Driver> Drivers =
        Gen.Select(Gen.Enum<Rewrite>().Array[Names.Length], Gen.Int[0, 16], Gen.Int[0, 4],
            (rewrites, bits, max) => new Driver(Names.Select((n, i) => (n, rewrites[i])).ToDictionary(x => x.n, x => x.Item2), bits, max));

    private static readonly Gen<DesiredFunction> Declarations =
        Gen.Select(Gen.Int[0, 4], Gen.Select(Pick(Names), Pick("0", "020", "20", "100000", "65536", "x1")).Array[0, 3],
            (vfs, provision) => new DesiredFunction(Pfs[0], vfs, "vfio-pci",
                provision.DistinctBy(p => p.Item1).ToDictionary(p => p.Item1, p => p.Item2), null, null, new SourceLocation("f", 1, 1)));

    /// <summary>
    /// Never churn (issue 24): whatever a driver does with the values written (keeps them, parses
    /// them as numbers, rounds them to any alignment, keeps a constant, a counter or nothing; enables
    /// fewer VFs than asked), plan and apply on a model of the kernel, with gvtd's memory of what it
    /// set up, take the PF through 0 VFs at most once per declaration, over passes and over a change
    /// of the declaration and back (each change may try once more).
    /// </summary>
    [Fact]
    public void Whatever_a_driver_keeps_resets_per_declaration_are_at_most_one() =>
        Gen.Select(Drivers, Declarations, Declarations, Gen.Int[0, 4], Gen.Bool).Sample((driver, first, second, initialVfs, owned) =>
        {
            var pf = Pfs[0];
            var layout = ProvisioningLayout.All[0];
            var values = Enumerable.Range(0, 4).Select(_ => Names.ToDictionary(n => n, _ => "0")).ToList();
            var kernel = new PhysicalFunction(pf, "/sys/devices/" + pf, "xe", 4, false,
                [.. Enumerable.Range(0, initialVfs).Select(n => new VirtualFunction(pf[..^1] + (n + 1), n, "", "vfio-pci", 7, DeviceUse.Free))], null, 0x030000);
            var ownedSet = owned ? new HashSet<string> { pf } : new HashSet<string>();
            var memory = new Gvtd.Reconcile.OncePerDeclaration();
            var resets = new Dictionary<int, int>();
            var writes = 0;
            // Passes under one declaration, then another, then the first again: each a change of the declaration.
            foreach (var (want, change) in new[] { (first, 0), (first, 0), (first, 0), (first, 0), (second, 1), (second, 1), (second, 1), (first, 2), (first, 2), (first, 2) })
            {
                var state = new DesiredStateSnapshot(Settings.Default with { Prune = PrunePolicy.All }, [], []) { Functions = [want] };
                memory.Forget(state.Functions); // as the reconciler does at the start of each pass
                var observed = kernel with { Provisioning = new ObservedProvisioning(layout, "/x", Names, [.. values.Select(v => (IReadOnlyDictionary<string, string>)new Dictionary<string, string>(v))]) };
                foreach (var action in FunctionPlanner.Plan(state, new ObservedFunctions(new Dictionary<string, PhysicalFunction> { [pf] = observed }, null), ownedSet, false, memory.SetUpBefore).Where(a => a.ChangesSomething))
                {
                    if (action.Kind is FunctionActionKind.Reset or FunctionActionKind.Disable && kernel.NumVfs > 0)
                    {
                        resets[change] = resets.GetValueOrDefault(change) + 1;
                        if (resets[change] > 1) return false;
                    }
                    if (action.Kind is FunctionActionKind.Enable or FunctionActionKind.Reset)
                    {
                        // As the applier does: provisioning written to every VF, then the count; the driver keeps what it keeps.
                        foreach (var v in values)
                            foreach (var (name, value) in want.Provision)
                                v[name] = driver.Keep(name, value, writes++);
                        kernel = kernel with { Vfs = [.. Enumerable.Range(0, Math.Min(want.Vfs, driver.MaxVfs)).Select(n => new VirtualFunction(pf[..^1] + (n + 1), n, "", "vfio-pci", 7, DeviceUse.Free))] };
                        ownedSet.Add(pf);
                    }
                    else if (action.Kind == FunctionActionKind.Disable) kernel = kernel with { Vfs = [] };
                    memory.Applied(action, succeeded: true);
                }
            }
            return true;
        }, iter: 3000);
}
