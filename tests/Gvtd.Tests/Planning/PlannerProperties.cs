using CsCheck;
using Gvtd.Contract;
using Gvtd.DesiredState;
using Gvtd.Ownership;
using Gvtd.Planning;
using Gvtd.Simulation;
using Gvtd.Sysfs;
using static Gvtd.Tests.Support.States;

namespace Gvtd.Tests.Planning;

/// <summary>
/// The planner's promises, checked on thousands of generated hosts: a GVT-g GPU whose types share
/// one pool (modelled as the simulator and i915 do) and an mtty-like parent whose types count on
/// their own; devices free, held, or of unknown use; any ledger and prune policy. Each plan is
/// applied to a model kernel that refuses what the real one would. Besides safety and idempotence,
/// progress: what is declared, fits and is free is created within the rounds of one pass.
/// </summary>
public sealed class PlannerProperties
{
    private const string Gpu = SimulatedGvtGpu.PciAddress, Mtty = "mtty";
    private static readonly string[] Uuids = Enumerable.Range(1, 6).Select(i => $"00000000-0000-4000-8000-{i:x12}").ToArray();
    private static readonly Dictionary<string, int> MttyCapacity = new() { ["mtty-1"] = 3, ["mtty-2"] = 2 };
    private static readonly (string Parent, string Type)[] Kinds =
        [.. SimulatedGvtGpu.Types.Select(t => (Gpu, t.Id)), .. MttyCapacity.Keys.Select(t => (Mtty, t))];

    /// <summary>A host: what the kernel has (and who holds it), what is declared, what gvtd owns.</summary>
    public sealed record Host(Dictionary<string, (string Parent, string Type)> Devices, Dictionary<string, DeviceUse> Use,
        List<DesiredVGpu> Declared, HashSet<string> Owned, PrunePolicy Prune)
    {
        public override string ToString() =>
            $"devices [{string.Join(", ", Devices.Select(d => $"{d.Key[^2..]}={d.Value.Type}/{Use[d.Key]}"))}], "
            + $"declared [{string.Join(", ", Declared.Select(v => $"{v.Uuid[^2..]}={v.Type}"))}], owned [{string.Join(", ", Owned.Select(u => u[^2..]))}], prune {Prune}";
    }

    private static readonly Gen<Host> Hosts =
        Gen.Select(
            Gen.Int[0, Kinds.Length * 2].Array[Uuids.Length],   // per UUID: a device of that kind, or none
            Gen.Frequency((6, Gen.Const(DeviceUse.Free)), (2, Gen.Const(DeviceUse.Held)), (2, Gen.Const(DeviceUse.Unknown))).Array[Uuids.Length],
            Gen.Int[0, Kinds.Length * 2].Array[Uuids.Length],   // per UUID: declared as that kind, or not
            Gen.Bool.Array[Uuids.Length],
            Gen.Enum<PrunePolicy>(),
            (devices, uses, declared, owned, prune) =>
            {
                var kernel = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
                for (var i = 0; i < Uuids.Length; i++)
                    if (devices[i] < Kinds.Length && Fits(kernel, Kinds[devices[i]])) kernel[Uuids[i]] = Kinds[devices[i]];
                return new Host(kernel,
                    Uuids.Select((u, i) => (u, uses[i])).ToDictionary(x => x.u, x => x.Item2),
                    [.. Uuids.Select((u, i) => (u, declared[i])).Where(x => x.Item2 < Kinds.Length)
                        .Select(x => Want(x.u, Kinds[x.Item2].Type, Kinds[x.Item2].Parent))],
                    [.. Uuids.Where((_, i) => owned[i])],
                    prune);
            });

    [Fact]
    public void Plans_KeepEveryPromise_AndConvergeAsAPassDoes() => Hosts.Sample(host =>
    {
        var kernel = new Dictionary<string, (string Parent, string Type)>(host.Devices, StringComparer.Ordinal);
        var owned = new HashSet<string>(host.Owned, StringComparer.Ordinal);
        var made = new HashSet<string>(StringComparer.Ordinal);
        // As Reconciler does: plan, apply, and plan again while something waited for room, up to its rounds.
        for (var round = 1; round <= 3; round++)
        {
            var plan = Planner.Plan(Desired(host.Prune, [.. host.Declared]), Observe(kernel, host.Use), owned);
            if (!plan.Any(a => a.ChangesSomething)) break;
            foreach (var action in plan.Where(a => a.ChangesSomething))
            {
                if (action.Kind is ActionKind.Remove or ActionKind.Recreate)
                {
                    // Never destroy what a VM may hold, nor (but with prune: all) what gvtd did not create,
                    // nor what an earlier round made.
                    Assert.Equal(DeviceUse.Free, host.Use[action.Uuid]);
                    Assert.True(host.Prune == PrunePolicy.All || owned.Contains(action.Uuid), $"{action.Kind} of {action.Uuid}, not owned");
                    Assert.DoesNotContain(action.Uuid, made);
                    Assert.True(kernel.Remove(action.Uuid));
                }
                if (action.Kind == ActionKind.Remove)
                {
                    Assert.NotEqual(PrunePolicy.None, host.Prune);
                    owned.Remove(action.Uuid);
                }
                if (action.Kind is ActionKind.Create or ActionKind.Recreate)
                {
                    // Applied in order, the kernel accepts every create: never planned past what it gives.
                    Assert.True(Fits(kernel, (action.Parent, action.Type)), $"round {round}: the kernel has no room for {action.Type} on {action.Parent}");
                    kernel[action.Uuid] = (action.Parent, action.Type);
                    owned.Add(action.Uuid);
                    made.Add(action.Uuid);
                }
            }
            if (!plan.Any(a => a.Blocked == BlockReason.NoCapacity)) break;
        }
        // Three rounds are enough: the next plan changes nothing (idempotence). A first plan may
        // under-use GVT-g's pool, as sysfs counts cannot prove every resource free after a removal;
        // the round after the writes sees the kernel's new counts.
        var last = Planner.Plan(Desired(host.Prune, [.. host.Declared]), Observe(kernel, host.Use), owned);
        Assert.DoesNotContain(last, a => a.ChangesSomething);
        // Progress, or a planner that never creates anything would keep every promise above: a
        // declared vGPU whose UUID is free and for which the kernel has room is there by now.
        foreach (var want in host.Declared.Where(v => !kernel.ContainsKey(v.Uuid)))
            Assert.False(Fits(kernel, (want.Parent, want.Type)), $"{want.Uuid[^2..]}={want.Type} is declared, its UUID is free and {want.Parent} has room, but it was never created");
    }, iter: 5000, print: h => h.ToString());

    /// <summary>Where a read failed: nowhere, the whole device list (EACCES, EIO on bus/mdev/devices), or single entries.</summary>
    public enum Blindness { None, DeviceList, Entries }

    /// <summary>
    /// Read errors (EACCES, EIO, EMFILE ...) injected at random places, as the reader reports them:
    /// the list unreadable (blind), an entry unreadable (listed, not read), or a device's use not
    /// readable (a process's fds or its vfio-dev). Whatever fails, nothing that exists is taken for
    /// gone, so the ledger never shrinks by it, and nothing whose use was not read is destroyed.
    /// </summary>
    [Fact]
    public void InjectedReadErrors_NeverShrinkTheLedger_NorDestroyWhatCouldNotBeRead() => Gen.Select(
        Hosts, Gen.Enum<Blindness>(), Gen.Bool.Array[Uuids.Length], Gen.Bool.Array[Uuids.Length], Gen.Bool,
        (host, blindness, unreadable, useUnread, asleep) => (host, blindness, unreadable, useUnread, asleep)).Sample(t =>
    {
        var (host, blindness, unreadable, useUnread, asleep) = t;
        var use = host.Use.ToDictionary(u => u.Key, u => useUnread[Array.IndexOf(Uuids, u.Key)] ? DeviceUse.Unknown : u.Value);
        var seen = Observe(host.Devices, use);
        var observed = blindness switch
        {
            Blindness.DeviceList => new ObservedState(seen.Parents, new Dictionary<string, MdevDevice>(), []) { Blind = "cannot list /sys/bus/mdev/devices: Input/output error" },
            Blindness.Entries => new ObservedState(seen.Parents,
                seen.Devices.Where(d => !unreadable[Array.IndexOf(Uuids, d.Key)]).ToDictionary(), [])
            {
                Unreadable = seen.Devices.Keys.Where(u => unreadable[Array.IndexOf(Uuids, u)]).ToHashSet(),
            },
            _ => seen,
        };
        var declared = host.Declared.Select(v => v.Uuid).ToHashSet();

        // The ledger forgets only what is known to be gone, and settles no intent of a device that exists.
        Assert.DoesNotContain(OwnershipLedger.Stale(host.Owned, declared, observed, _ => false), host.Devices.ContainsKey);
        Assert.All(host.Devices.Keys, u => Assert.True(observed.MayExist(u), $"{u} exists but reads as gone"));

        foreach (var action in Planner.Plan(Desired(host.Prune, [.. host.Declared]), observed, host.Owned, asleep).Where(a => a.ChangesSomething))
        {
            if (action.Kind is ActionKind.Remove or ActionKind.Recreate)
            {
                Assert.Null(observed.Blind);
                Assert.True(observed.Devices.ContainsKey(action.Uuid), $"{action.Kind} of {action.Uuid}, which was not read");
                Assert.Equal(DeviceUse.Free, use[action.Uuid]);
            }
            if (action.Kind == ActionKind.Create)
            {
                Assert.Null(observed.Blind);
                Assert.False(host.Devices.ContainsKey(action.Uuid), $"create of {action.Uuid}, which exists but was not read");
            }
        }
    }, iter: 5000, print: t => $"{t.host}, {t.blindness}, asleep {t.asleep}");

    [Fact]
    public void AnEmptyDeclarationWithPruneNone_ChangesNothing() => Hosts.Sample(host =>
    {
        var plan = Planner.Plan(Desired(PrunePolicy.None), Observe(host.Devices, host.Use), host.Owned);

        Assert.DoesNotContain(plan, a => a.ChangesSomething);
    }, iter: 1000, print: h => h.ToString());

    /// <summary>Whether the model kernel has room for one more of <paramref name="kind"/>, as i915 and mtty count it.</summary>
    private static bool Fits(Dictionary<string, (string Parent, string Type)> kernel, (string Parent, string Type) kind) =>
        Available(kernel, kind) > 0;

    private static int Available(Dictionary<string, (string Parent, string Type)> kernel, (string Parent, string Type) kind)
    {
        var onParent = kernel.Values.Where(d => d.Parent == kind.Parent).Select(d => d.Type).ToList();
        return kind.Parent == Gpu
            ? SimulatedGvtGpu.AvailableInstances(SimulatedGvtGpu.Types.Single(t => t.Id == kind.Type), onParent.Select(id => SimulatedGvtGpu.Types.Single(t => t.Id == id)))
            : MttyCapacity[kind.Type] - onParent.Count(t => t == kind.Type);
    }

    private static ObservedState Observe(Dictionary<string, (string Parent, string Type)> kernel, Dictionary<string, DeviceUse> use)
    {
        var gpu = new MdevParent(Gpu, $"/sys/devices/pci0000:00/{Gpu}", SimulatedGvtGpu.Driver,
            SimulatedGvtGpu.Types.Select(t => new MdevType(t.Id, t.Name, t.Description, "vfio-pci", Available(kernel, (Gpu, t.Id)),
                GvtDescriptionParser.Parse(t.Description))).ToList());
        var mtty = new MdevParent(Mtty, "/sys/devices/virtual/mtty/mtty", "mtty",
            MttyCapacity.Keys.Select(t => new MdevType(t, t, "", "vfio-pci", Available(kernel, (Mtty, t)), null)).ToList());
        return Observed([gpu, mtty], [.. kernel.Select(d => Device(d.Key, d.Value.Parent, d.Value.Type, use[d.Key]))]);
    }
}
