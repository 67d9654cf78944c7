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

    private static readonly Gen<Host> Hosts =
        Gen.Select(Vfs.Array[0, 4].Array[Pfs.Length], Gen.Int[-1, 5].Array[Pfs.Length], Gen.Bool.Array[Pfs.Length], Gen.Enum<PrunePolicy>(), Gen.Bool,
            (vfs, declared, owned, prune, asleep) => new Host(
                Pfs.Select((pf, i) => new PhysicalFunction(pf, "/sys/devices/" + pf, "i915", 4, false,
                    [.. vfs[i].Select((v, n) => v with { Address = pf[..^1] + (n + 1), Index = n })], null)).ToDictionary(p => p.Address),
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
}
