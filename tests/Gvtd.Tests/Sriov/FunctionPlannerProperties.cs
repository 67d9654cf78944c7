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
            (use, driver) => new VirtualFunction("", 0, "", driver, driver, 7, use));

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
}
