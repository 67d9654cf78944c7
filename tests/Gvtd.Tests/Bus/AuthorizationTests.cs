using Gvtd.Tests.Support;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>Reading is open to everyone; changing needs root or polkit's org.gvtd.Gvtd1.manage.</summary>
[Collection(SystemBusCollection.Name)]
public sealed class AuthorizationTests(SystemBusFixture bus)
{
    [Fact]
    public void Unprivileged_CanReadPropertiesPlanAndList()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var state = Busctl.Run(bus.Address, ["get-property", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "State"], json: true, asNobody: true);
        var list = Busctl.Run(bus.Address, ["call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "ListVGpus"], json: true, asNobody: true);
        var plan = Busctl.Run(bus.Address, ["call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "Plan"], json: true, asNobody: true);
        var introspect = Busctl.Run(bus.Address, ["introspect", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager"], asNobody: true);

        Assert.Equal("idle", state.EnsureSuccess().Json().RootElement.GetProperty("data").GetString());
        Assert.Contains(A, list.EnsureSuccess().Stdout);
        Assert.Contains(A, plan.EnsureSuccess().Stdout);
        Assert.Contains("ReconcileFinished", introspect.EnsureSuccess().Stdout);
    }

    [Fact]
    public void Unprivileged_WithoutPolkit_IsDeniedReconcileWithAHint()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var reply = DbusSend.Call(bus.Address, "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager.Reconcile", [], asNobody: true);
        var busctl = Busctl.Run(bus.Address, ["call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "Reconcile"], asNobody: true);

        Assert.Equal("org.freedesktop.DBus.Error.AccessDenied", reply.ErrorName);
        Assert.Contains("sudo", reply.ErrorMessage);
        Assert.False(busctl.Success);
    }

    [Fact]
    public void Unprivileged_IsDeniedEveryChangingMethod()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        foreach (var (member, args) in new[]
        {
            ("Reload", Array.Empty<string>()),
            ("AddVGpu", new[] { "string:", "string:i915-GVTg_V5_8", "string:" + Parent, "boolean:false" }),
            ("RemoveVGpu", new[] { "string:" + A }),
        })
        {
            var reply = DbusSend.Call(bus.Address, "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager." + member, args, asNobody: true);
            Assert.Equal("org.freedesktop.DBus.Error.AccessDenied", reply.ErrorName);
        }
        Assert.Equal([A], ManagerTests.Devices(gvtd));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Unprivileged_IsDecidedByPolkitWhenItIsOnTheBus(bool grant)
    {
        using var polkit = new FakePolkit(bus.Address) { Grant = grant };
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var reply = DbusSend.Call(bus.Address, "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager.Reconcile", [], asNobody: true);

        Assert.Equal(grant ? null : "org.freedesktop.DBus.Error.AccessDenied", reply.ErrorName);
        var asked = Assert.Single(polkit.Asked);
        Assert.Equal("system-bus-name", asked.SubjectKind);
        Assert.StartsWith(":", asked.BusName);
        Assert.Equal("org.gvtd.Gvtd1.manage", asked.Action);
    }

    [Theory]
    [InlineData("yes", 1u)]
    [InlineData("no", 0u)]
    public void Polkit_IsToldWhetherTheCallerAllowsInteractiveAuthorization(string allow, uint flags)
    {
        using var polkit = new FakePolkit(bus.Address) { Grant = true };
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        Busctl.Run(bus.Address, [$"--allow-interactive-authorization={allow}", "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager",
            "org.gvtd.Gvtd1.Manager", "Reconcile"], asNobody: true).EnsureSuccess();

        Assert.Equal(flags, Assert.Single(polkit.Asked).Flags);
    }

    [Fact]
    public void Root_IsNotAskedAboutByPolkit()
    {
        using var polkit = new FakePolkit(bus.Address) { Grant = false };
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        Busctl.Run(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "Reconcile").EnsureSuccess();

        Assert.Empty(polkit.Asked);
    }
}
