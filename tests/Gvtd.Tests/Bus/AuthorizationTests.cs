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

        // Readable by anyone; which of the two a running gvtd says depends on whether a pass runs.
        Assert.Contains(state.EnsureSuccess().Json().RootElement.GetProperty("data").GetString(), new[] { "idle", "reconciling" });
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

    [Fact]
    public void ACallerThatDidNotAllowAPrompt_GetsInteractiveAuthorizationRequired_WithoutWaitingForOne()
    {
        using var polkit = new FakePolkit(bus.Address) { Grant = false, Challenge = true };
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        // dbus-send never sets ALLOW_INTERACTIVE_AUTHORIZATION.
        var reply = DbusSend.Call(bus.Address, "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager.Reconcile", [], asNobody: true);

        // "At once" is what happened, not a time (process starts on a busy machine take seconds):
        // polkit was asked once, without the interactive flag, and its challenge became the answer;
        // waiting for anyone instead would end in gvtd's time-out and an AccessDenied.
        Assert.Equal("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", reply.ErrorName);
        Assert.Contains("allowing interactive authorization", reply.ErrorMessage);
        Assert.Equal(0u, Assert.Single(polkit.Asked).Flags);
        Assert.DoesNotContain("cancelled the check", gvtd.Log);
    }
}

/// <summary>
/// A polkit prompt nobody answers: gvtd gives up at its limit, cancels the check in polkit, and
/// refuses, all before gvtctl stops waiting. It waits the real limit (80 s), so it has a bus of its
/// own and runs beside the other bus tests rather than after them.
/// </summary>
[Collection(SlowPromptCollection.Name)]
public sealed class UnansweredPromptTests(SystemBusFixture bus)
{
    [Fact]
    public void AnUnansweredPrompt_IsCancelledAndRefused_BeforeGvtctlGivesUp_AndNothingChanges()
    {
        using var polkit = new FakePolkit(bus.Address) { NobodyAtThePrompt = true };
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var reply = Busctl.Run(bus.Address, ["--allow-interactive-authorization=yes", "--timeout=100", "call", "org.gvtd.Gvtd1",
            "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "RemoveVGpu", "s", A], asNobody: true, timeout: TimeSpan.FromSeconds(120));

        var took = watch.Elapsed;
        Assert.False(reply.Success);
        gvtd.WaitForLog("cancelled the check and refused the call");
        // gvtd waited its whole limit (load can only lengthen that), and the caller heard its refusal,
        // not its own time-out: the answer came before the caller stopped listening, however long
        // a busy machine took to start busctl.
        Assert.True(took >= Gvtd.Contract.AuthorizationTimes.Interactive, $"refused after {took.TotalSeconds:0.0} s");
        // (busctl prints an AccessDenied as its standard text, and its own time-out as "Connection timed out".)
        Assert.Equal("Call failed: Access denied", reply.Stderr.Trim());
        var asked = Assert.Single(polkit.Asked);
        gvtd.WaitUntil(() => { lock (polkit.Cancelled) return polkit.Cancelled.Contains(asked.Cancellation); }, HangGuard.Timeout);
        Assert.NotEqual("", asked.Cancellation);
        Assert.Equal([A], ManagerTests.Devices(gvtd));
    }
}

[CollectionDefinition(Name)]
public sealed class SlowPromptCollection : ICollectionFixture<SystemBusFixture>
{
    public const string Name = "private system bus for the unanswered prompt";
}
