using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Sysfs;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Sriov;

/// <summary>The SR-IOV planner's rules, on observed states made by hand (it is pure).</summary>
public sealed class FunctionPlannerTests : IDisposable
{
    private const string Pf = "0000:03:00.0";
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>An xe card: a display controller (class 0x030000), as the kernel shows one.</summary>
    private static PhysicalFunction Observed(int vfs, DeviceUse use = DeviceUse.Free, string vfDriver = "vfio-pci", string driver = "xe", int pciClass = 0x030000) =>
        new(Pf, "/sys/devices/pci0000:00/" + Pf, driver, 8, AutoProbe: false,
            [.. Enumerable.Range(0, vfs).Select(i => new VirtualFunction($"0000:03:00.{i + 1}", i, "", vfDriver, 10 + i, i == 0 ? use : DeviceUse.Free))],
            Provisioning: null, pciClass);

    private FunctionAction Plan(string yaml, PhysicalFunction? pf, bool owned, bool asleep = false, string? blind = null, bool setUpBefore = false)
    {
        var state = Yaml.Load(_dir, yaml);
        var observed = new ObservedFunctions(pf is null ? new Dictionary<string, PhysicalFunction>() : new() { [Pf] = pf }, blind);
        return Assert.Single(FunctionPlanner.Plan(state, observed, owned ? new HashSet<string> { Pf } : new HashSet<string>(), asleep, _ => setUpBefore));
    }

    [Theory]
    [InlineData(0x020000, "a network controller (class 0x020000)")]
    [InlineData(0x010802, "a storage controller (class 0x010802)")]
    [InlineData(0x120000, "a processing accelerator (class 0x120000)")]
    public void An_undeclared_pf_that_is_not_a_display_controller_is_never_changed_whatever_prune_says(int pciClass, string says)
    {
        foreach (var prune in new[] { "none", "owned", "all" })
        {
            var action = Plan(Nothing(prune), Observed(4, vfDriver: "", driver: "ice", pciClass: pciClass), owned: false);
            Assert.Equal(FunctionActionKind.Ignore, action.Kind);
            Assert.Contains(says, action.Reason);
            Assert.Contains("whatever prune says", action.Reason);
        }
        // Unless gvtd enabled its VFs (it was declared once): then it is gvtd's to disable.
        Assert.Equal(FunctionActionKind.Disable, Plan(Nothing("owned"), Observed(4, driver: "ice", pciClass: pciClass), owned: true).Kind);
    }

    [Fact]
    public void A_vf_on_a_host_driver_is_in_use_for_every_disable_and_reset()
    {
        var undeclared = Plan(Nothing("all"), Observed(2, vfDriver: "iavf"), owned: true);
        Assert.Equal((FunctionActionKind.Blocked, BlockReason.InUse), (undeclared.Kind, undeclared.Blocked));
        Assert.Contains("bound to iavf, a host driver", undeclared.Reason);
        var reset = Plan(Declared(3, "all"), Observed(2, vfDriver: "i915"), owned: true);
        Assert.Equal((FunctionActionKind.Blocked, BlockReason.InUse), (reset.Kind, reset.Blocked));
        // The declared driver is not a host driver: gvtd bound the VFs to it.
        var own = $"sriov:\n  - pf: \"{Pf}\"\n    vfs: 3\n    driver: i915\n";
        Assert.Equal(FunctionActionKind.Reset, Plan(own, Observed(2, vfDriver: "i915"), owned: true).Kind);
    }

    [Fact]
    public void A_pf_still_differing_after_gvtd_set_it_up_for_this_declaration_is_blocked_not_reset_again()
    {
        Assert.Equal(FunctionActionKind.Reset, Plan(Declared(3), Observed(2), owned: true).Kind);
        var again = Plan(Declared(3), Observed(2), owned: true, setUpBefore: true);
        Assert.Equal((FunctionActionKind.Blocked, BlockReason.DriverKeeps), (again.Kind, again.Blocked));
        Assert.Contains("the driver keeps 2 VFs for the declared 3", again.Reason);
        // Enabling from 0 destroys nothing: it is never held back.
        Assert.Equal(FunctionActionKind.Enable, Plan(Declared(3), Observed(0), owned: true, setUpBefore: true).Kind);
    }

    private static string Declared(int vfs, string prune = "owned") => $"settings:\n  prune: {prune}\nsriov:\n  - pf: \"{Pf}\"\n    vfs: {vfs}\n";

    private static string Nothing(string prune) => $"settings:\n  prune: {prune}\nvgpus: []\n";

    [Theory]
    [InlineData("none", true, FunctionActionKind.Ignore)]
    [InlineData("owned", false, FunctionActionKind.Ignore)]
    [InlineData("owned", true, FunctionActionKind.Disable)]
    [InlineData("all", false, FunctionActionKind.Disable)]
    public void Undeclared_vfs_go_only_as_prune_and_ownership_say(string prune, bool owned, FunctionActionKind expected) =>
        Assert.Equal(expected, Plan(Nothing(prune), Observed(2), owned).Kind);

    [Theory]
    [InlineData(DeviceUse.Held, "is in use by a VM")]
    [InlineData(DeviceUse.Unknown, "cannot tell whether a VM holds")]
    public void A_held_or_unknown_vf_blocks_every_count_change_and_every_disable(DeviceUse use, string says)
    {
        var change = Plan(Declared(3), Observed(2, use), owned: true);
        Assert.Equal((FunctionActionKind.Blocked, BlockReason.InUse), (change.Kind, change.Blocked));
        Assert.Contains(says, change.Reason);
        Assert.Contains("only through 0", change.Reason);

        var disable = Plan(Nothing("all"), Observed(2, use), owned: true);
        Assert.Equal((FunctionActionKind.Blocked, BlockReason.InUse), (disable.Kind, disable.Blocked));
        Assert.Equal(FunctionActionKind.Blocked, Plan(Declared(0), Observed(2, use), owned: true).Kind);
    }

    // A VF with no driver that a VFIO user holds is one whose unbind waits for its VM, with the
    // device lock held (docs/kernel/device-lock.md): a bind's writes would wait on that lock, then
    // land whenever the VM lets go. Nothing is written to it until it is released.
    [Theory]
    [InlineData(DeviceUse.Held, "is in use by a VM")]
    [InlineData(DeviceUse.Unknown, "cannot tell whether a VM holds")]
    public void A_vf_with_no_driver_that_is_held_or_may_be_is_not_bound(DeviceUse use, string says)
    {
        var action = Plan(Declared(2), Observed(2, use, vfDriver: ""), owned: true);
        Assert.Equal((FunctionActionKind.Blocked, BlockReason.InUse), (action.Kind, action.Blocked));
        Assert.Contains("VF 0000:03:00.1 has no driver", action.Reason);
        Assert.Contains(says, action.Reason);
        Assert.Contains("an unbind of it waits for its VM", action.Reason);
        Assert.Contains("binds it once it is released", action.Reason);
        // Free, the same VFs are bound.
        Assert.Equal(FunctionActionKind.Bind, Plan(Declared(2), Observed(2, vfDriver: ""), owned: true).Kind);
    }

    [Fact]
    public void A_count_change_of_vfs_someone_else_enabled_waits_for_prune_all()
    {
        Assert.Equal(BlockReason.NotOwned, Plan(Declared(3), Observed(2), owned: false).Blocked);
        Assert.Equal(FunctionActionKind.Reset, Plan(Declared(3, "all"), Observed(2), owned: false).Kind);
        // The right count is kept as it is, whoever enabled it.
        Assert.Equal(FunctionActionKind.Keep, Plan(Declared(2), Observed(2), owned: false).Kind);
    }

    [Fact]
    public void Zero_declared_disables_and_an_absent_pf_is_awaited()
    {
        Assert.Equal(FunctionActionKind.Disable, Plan(Declared(0), Observed(2), owned: true).Kind);
        Assert.Equal(FunctionActionKind.Keep, Plan(Declared(0), Observed(0), owned: false).Kind);
        Assert.Equal(BlockReason.ParentAbsent, Plan(Declared(2), null, owned: false).Blocked);
        Assert.Equal(BlockReason.ParentAbsent, Plan(Declared(2), Observed(0, driver: ""), owned: false).Blocked);
    }

    [Fact]
    public void When_the_pci_devices_cannot_be_read_nothing_is_changed()
    {
        var action = Plan(Declared(3), null, owned: true, blind: "cannot list /sys/bus/pci/devices: EIO");
        Assert.Equal((FunctionActionKind.Blocked, BlockReason.Unseen), (action.Kind, action.Blocked));
        Assert.Empty(FunctionPlanner.Plan(Yaml.Load(_dir, Nothing("all")), new ObservedFunctions(new Dictionary<string, PhysicalFunction>(), "EIO"), new HashSet<string> { Pf }));
    }

    [Fact]
    public void Around_sleep_only_idle_vfs_gvtd_enabled_step_aside()
    {
        Assert.Equal(FunctionActionKind.Disable, Plan(Declared(2), Observed(2), owned: true, asleep: true).Kind);
        Assert.Equal(FunctionActionKind.Keep, Plan(Declared(2), Observed(2), owned: false, asleep: true).Kind);
        var held = Plan(Declared(2), Observed(2, DeviceUse.Held), owned: true, asleep: true);
        Assert.Equal((FunctionActionKind.Keep, BlockReason.InUse), (held.Kind, held.Blocked));
        Assert.Equal(BlockReason.Asleep, Plan(Declared(2), Observed(0), owned: true, asleep: true).Blocked);
        var keep = $"settings:\n  sleep: keep\nsriov:\n  - pf: \"{Pf}\"\n    vfs: 2\n";
        Assert.Equal(FunctionActionKind.Keep, Plan(keep, Observed(2), owned: true, asleep: true).Kind);
    }
}
