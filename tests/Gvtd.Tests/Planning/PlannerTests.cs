using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Sysfs;
using static Gvtd.Tests.Support.States;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.Planning;

public sealed class PlannerTests
{
    private static readonly MdevParent Mtty = Parent("mtty", ("mtty-1", 24), ("mtty-2", 12));
    private static readonly MdevParent Gpu = Parent("0000:00:02.0", ("i915-GVTg_V5_4", 4), ("i915-GVTg_V5_8", 8));

    private static PlannedAction Only(IReadOnlyList<PlannedAction> plan, string uuid) => Assert.Single(plan, a => a.Uuid == uuid);

    [Fact]
    public void Plan_DeclaredAndMissing_Creates()
    {
        var plan = Planner.Plan(Desired(PrunePolicy.Owned, Want(U1, "mtty-1", "mtty")), Observed([Mtty]), Owned());

        var action = Assert.Single(plan);
        Assert.Equal((ActionKind.Create, U1, "mtty-1", "mtty"), (action.Kind, action.Uuid, action.Type, action.Parent));
    }

    [Fact]
    public void Plan_DeclaredAndPresent_Keeps()
    {
        var plan = Planner.Plan(Desired(PrunePolicy.Owned, Want(U1, "mtty-1", "mtty")),
            Observed([Mtty], Device(U1, "mtty", "mtty-1")), Owned());

        Assert.Equal(ActionKind.Keep, Assert.Single(plan).Kind);
    }

    [Theory]
    [InlineData("mtty-2", "mtty")] // other type
    [InlineData("mtty-1", "0000:00:02.0")] // other parent
    public void Plan_OwnedDeviceWithOtherTypeOrParent_Recreates(string haveType, string haveParent)
    {
        var plan = Planner.Plan(Desired(PrunePolicy.Owned, Want(U1, "mtty-1", "mtty")),
            Observed([Mtty, Gpu], Device(U1, haveParent, haveType)), Owned(U1));

        var action = Assert.Single(plan);
        Assert.Equal(ActionKind.Recreate, action.Kind);
        Assert.Contains(haveType, action.Reason);
        Assert.Equal(haveParent, action.Observed!.Parent);
    }

    [Fact]
    public void Plan_NotOwnedDeviceWithOtherType_IsBlockedUnderPruneOwned()
    {
        var plan = Planner.Plan(Desired(PrunePolicy.Owned, Want(U1, "mtty-1", "mtty")),
            Observed([Mtty], Device(U1, "mtty", "mtty-2")), Owned());

        var action = Assert.Single(plan);
        Assert.Equal(ActionKind.Blocked, action.Kind);
        Assert.Contains("did not create it", action.Reason);
    }

    [Fact]
    public void Plan_NotOwnedDeviceWithOtherType_RecreatesUnderPruneAll()
    {
        var plan = Planner.Plan(Desired(PrunePolicy.All, Want(U1, "mtty-1", "mtty")),
            Observed([Mtty], Device(U1, "mtty", "mtty-2")), Owned());

        Assert.Equal(ActionKind.Recreate, Assert.Single(plan).Kind);
    }

    [Fact]
    public void Plan_PruneOwned_RemovesOnlyOwnedUndeclared()
    {
        var plan = Planner.Plan(Desired(PrunePolicy.Owned),
            Observed([Mtty], Device(U1, "mtty", "mtty-1"), Device(U2, "mtty", "mtty-1")), Owned(U1));

        Assert.Equal(ActionKind.Remove, Only(plan, U1).Kind);
        Assert.Equal(ActionKind.Ignore, Only(plan, U2).Kind);
    }

    [Fact]
    public void Plan_PruneNone_RemovesNothing()
    {
        var plan = Planner.Plan(Desired(PrunePolicy.None),
            Observed([Mtty], Device(U1, "mtty", "mtty-1"), Device(U2, "mtty", "mtty-1")), Owned(U1));

        Assert.All(plan, a => Assert.Equal(ActionKind.Ignore, a.Kind));
    }

    [Fact]
    public void Plan_PruneAll_RemovesEveryUndeclared()
    {
        var plan = Planner.Plan(Desired(PrunePolicy.All, Want(U3, "mtty-1", "mtty")),
            Observed([Mtty], Device(U1, "mtty", "mtty-1"), Device(U2, "mtty", "mtty-1"), Device(U3, "mtty", "mtty-1")), Owned(U1));

        Assert.Equal(ActionKind.Remove, Only(plan, U1).Kind);
        Assert.Equal(ActionKind.Remove, Only(plan, U2).Kind);
        Assert.Equal(ActionKind.Keep, Only(plan, U3).Kind);
    }

    [Fact]
    public void Plan_GvtgTypesShareOnePool_NeverPlannedPastIt_AndARemovalMakesRoom()
    {
        // 512 MiB of low graphics memory left, as available_instances shows it: V5_1 (512 MiB)
        // once, or V5_2 (256 MiB) twice; not both.
        var gpu = GvtParent("0000:00:02.0", ("i915-GVTg_V5_1", 512, 1), ("i915-GVTg_V5_2", 256, 2));

        var plan = Planner.Plan(Desired(PrunePolicy.Owned, Want(U1, "i915-GVTg_V5_1", "0000:00:02.0"), Want(U2, "i915-GVTg_V5_2", "0000:00:02.0")),
            Observed([gpu]), Owned());

        Assert.Equal(ActionKind.Create, Only(plan, U1).Kind);
        Assert.Equal(BlockReason.NoCapacity, Only(plan, U2).Blocked);
        Assert.Contains("share one GVT-g pool", Only(plan, U2).Reason);

        // An owned V5_2 that is no longer declared goes in the same plan, and its 256 MiB are counted.
        var full = GvtParent("0000:00:02.0", ("i915-GVTg_V5_1", 512, 0), ("i915-GVTg_V5_2", 256, 1));
        var again = Planner.Plan(Desired(PrunePolicy.Owned, Want(U2, "i915-GVTg_V5_2", "0000:00:02.0"), Want(U3, "i915-GVTg_V5_2", "0000:00:02.0")),
            Observed([full], Device(U1, "0000:00:02.0", "i915-GVTg_V5_2")), Owned(U1));

        Assert.Equal(ActionKind.Remove, Only(again, U1).Kind);
        Assert.Equal([ActionKind.Create, ActionKind.Create], new[] { Only(again, U2).Kind, Only(again, U3).Kind });
    }

    [Theory]
    [InlineData(PrunePolicy.None)]
    [InlineData(PrunePolicy.Owned)]
    [InlineData(PrunePolicy.All)]
    public void Plan_DeviceOfUnknownUse_IsNeverRemovedOrRecreated_AndSaysWhatToGrant(PrunePolicy prune)
    {
        // gvtd could not read every process's /proc/PID/fd: "nobody seen" is not "nobody".
        var plan = Planner.Plan(Desired(prune, Want(U2, "mtty-1", "mtty"), Want(U3, "mtty-1", "mtty")),
            Observed([Mtty], Device(U1, "mtty", "mtty-1", DeviceUse.Unknown), Device(U2, "mtty", "mtty-2", DeviceUse.Unknown)), Owned(U1, U2));

        Assert.DoesNotContain(plan, a => a.ChangesSomething && a.Uuid != U3);
        Assert.Equal(ActionKind.Create, Only(plan, U3).Kind); // creation goes ahead
        Assert.Equal(BlockReason.InUse, Only(plan, U2).Blocked);
        Assert.Contains("CAP_SYS_PTRACE", Only(plan, U2).Reason);
        if (prune != PrunePolicy.None)
            Assert.Contains("cannot tell whether a VM holds it", Only(plan, U1).Reason);
    }

    [Theory]
    [InlineData(PrunePolicy.None)]
    [InlineData(PrunePolicy.Owned)]
    [InlineData(PrunePolicy.All)]
    public void Plan_InUseDevice_IsNeverRemoved(PrunePolicy prune)
    {
        // U1: undeclared and owned; U2: declared with another type and owned.
        var plan = Planner.Plan(Desired(prune, Want(U2, "mtty-1", "mtty")),
            Observed([Mtty], Device(U1, "mtty", "mtty-1", inUse: true), Device(U2, "mtty", "mtty-2", inUse: true)), Owned(U1, U2));

        Assert.DoesNotContain(plan, a => a.ChangesSomething);
        Assert.Equal(ActionKind.Blocked, Only(plan, U2).Kind);
        Assert.Contains("in use", Only(plan, U2).Reason);
        if (prune != PrunePolicy.None)
        {
            Assert.Equal(ActionKind.Blocked, Only(plan, U1).Kind);
            Assert.Contains("in use", Only(plan, U1).Reason);
        }
    }

    [Fact]
    public void Plan_AbsentParent_BlocksAndWaits()
    {
        var plan = Planner.Plan(Desired(PrunePolicy.All, Want(U1, "i915-GVTg_V5_4", "0000:00:02.0")), Observed([Mtty]), Owned());

        var action = Assert.Single(plan);
        Assert.Equal(ActionKind.Blocked, action.Kind);
        Assert.Contains("0000:00:02.0 is not present", action.Reason);
        Assert.Contains("will create when it appears", action.Reason);
    }

    [Fact]
    public void Plan_DeclaredOnAbsentParentButPresentElsewhere_IsNotRemoved()
    {
        var plan = Planner.Plan(Desired(PrunePolicy.All, Want(U1, "i915-GVTg_V5_4", "0000:00:02.0")),
            Observed([Mtty], Device(U1, "mtty", "mtty-1")), Owned(U1));

        var action = Assert.Single(plan);
        Assert.Equal(ActionKind.Blocked, action.Kind);
        Assert.Contains("is not present", action.Reason);
    }

    [Fact]
    public void Plan_UnknownType_IsBlockedListingTheAvailableTypes()
    {
        var plan = Planner.Plan(Desired(PrunePolicy.Owned, Want(U1, "mtty-9", "mtty")), Observed([Mtty]), Owned());

        var action = Assert.Single(plan);
        Assert.Equal(ActionKind.Blocked, action.Kind);
        Assert.Contains("no type mtty-9", action.Reason);
        Assert.All(Mtty.Types, t => Assert.Contains(t.Id, action.Reason));
    }

    [Fact]
    public void Plan_NoCapacity_IsBlocked()
    {
        var full = Parent("mtty", ("mtty-1", 0));
        var plan = Planner.Plan(Desired(PrunePolicy.Owned, Want(U1, "mtty-1", "mtty")), Observed([full]), Owned());

        var action = Assert.Single(plan);
        Assert.Equal(ActionKind.Blocked, action.Kind);
        Assert.Contains("no capacity", action.Reason);
    }

    [Fact]
    public void Plan_TwoDeclarationsForTheLastInstance_CreatesOneBlocksTheOther()
    {
        var last = Parent("mtty", ("mtty-2", 1));
        var plan = Planner.Plan(Desired(PrunePolicy.Owned, Want(U2, "mtty-2", "mtty"), Want(U1, "mtty-2", "mtty")), Observed([last]), Owned());

        Assert.Single(plan, a => a.Kind == ActionKind.Create);
        Assert.Contains("no capacity", Assert.Single(plan, a => a.Kind == ActionKind.Blocked).Reason);
    }

    [Fact]
    public void Plan_Ordering_RemovalsFirstThenByParentThenUuid()
    {
        var desired = Desired(PrunePolicy.Owned,
            Want(U3, "mtty-1", "mtty"), Want(U2, "i915-GVTg_V5_4", "0000:00:02.0"), Want(U1, "mtty-1", "mtty"));
        const string gone = "00000000-0000-0000-0000-00000000000f";
        var plan = Planner.Plan(desired, Observed([Mtty, Gpu], Device(gone, "mtty", "mtty-2")), Owned(gone));

        Assert.Equal([(ActionKind.Remove, gone), (ActionKind.Create, U2), (ActionKind.Create, U1), (ActionKind.Create, U3)],
            plan.Select(a => (a.Kind, a.Uuid)));
        Assert.Equal(plan, Planner.Plan(desired, Observed([Mtty, Gpu], Device(gone, "mtty", "mtty-2")), Owned(gone)));
    }

    [Fact]
    public void Plan_EveryAction_CarriesAReason()
    {
        var desired = Desired(PrunePolicy.Owned,
            Want(U1, "mtty-1", "mtty"), Want(U2, "mtty-9", "mtty"), Want(U3, "i915-GVTg_V5_4", "0000:00:02.0"));
        var observed = Observed([Mtty],
            Device(U1, "mtty", "mtty-1"), Device("00000000-0000-0000-0000-00000000000e", "mtty", "mtty-2"),
            Device("00000000-0000-0000-0000-00000000000f", "mtty", "mtty-2", inUse: true));

        var plan = Planner.Plan(desired, observed, Owned("00000000-0000-0000-0000-00000000000f"));

        Assert.Equal(5, plan.Count);
        Assert.All(plan, a => Assert.False(string.IsNullOrWhiteSpace(a.Reason)));
    }
}
