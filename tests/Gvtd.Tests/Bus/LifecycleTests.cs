using System.Diagnostics;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>The daemon as systemd runs it: readiness, status, watchdog, signals, file changes.</summary>
[Collection(SystemBusCollection.Name)]
public sealed class LifecycleTests(SystemBusFixture bus)
{
    [Fact]
    public void UnderServiceManager_SendsReadyStatusWatchdogAndStopping()
    {
        using var notify = new NotifySocket();
        var watchdog = TimeSpan.FromMilliseconds(400);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")), environment: new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
            ["WATCHDOG_USEC"] = (watchdog.Ticks / TimeSpan.TicksPerMicrosecond).ToString(),
        });

        Assert.True(notify.WaitFor(m => m == "READY=1", TimeSpan.FromSeconds(10)), "no READY=1");
        Assert.True(notify.WaitFor(m => m == "STATUS=1 of 1 vGPUs active", TimeSpan.FromSeconds(10)), string.Join(", ", notify.Messages));
        // With a 1 h interval the loop still wakes every half watchdog period to say it is alive.
        Thread.Sleep(watchdog * 5);
        Assert.True(notify.Count("WATCHDOG=1") >= 4, $"only {notify.Count("WATCHDOG=1")} WATCHDOG=1 in {watchdog * 5}");

        gvtd.Signal("TERM");
        Assert.True(gvtd.WaitForExit(TimeSpan.FromSeconds(5)), "did not exit within 5 s of SIGTERM");
        Assert.True(notify.WaitFor(m => m == "STOPPING=1", TimeSpan.FromSeconds(1)), "no STOPPING=1");
    }

    [Fact]
    public void Ready_ComesAfterTheFirstPass_SoUnitsOrderedAfterGvtdFindTheDevices()
    {
        using var notify = new NotifySocket();
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")), environment: new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
        });

        Assert.True(notify.WaitFor(m => m == "READY=1", TimeSpan.FromSeconds(10)), "no READY=1");
        var messages = notify.Messages.Select(m => m.Message).ToList();
        // The first pass's status line (sent when it ends) is there before READY=1.
        Assert.True(messages.IndexOf("STATUS=1 of 1 vGPUs active") is >= 0 and var status && status < messages.IndexOf("READY=1"),
            string.Join(", ", messages));
    }

    [Fact]
    public void AnAbsentParent_DoesNotHoldUpReady_AndStatusSaysWhatIsAwaited()
    {
        using var notify = new NotifySocket();
        var yaml = Of((A, "i915-GVTg_V5_4")) + $"  - uuid: {B}\n    type: i915-GVTg_V5_8\n    parent: \"0000:00:03.0\"\n";
        using var gvtd = GvtdProcess.Start(bus.Address, yaml, environment: new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
        });

        Assert.True(notify.WaitFor(m => m == "READY=1", TimeSpan.FromSeconds(10)), "no READY=1");
        Assert.True(notify.WaitFor(m => m == "STATUS=1 of 2 vGPUs active; waiting for parent 0000:00:03.0: driver not loaded", TimeSpan.FromSeconds(5)),
            string.Join(", ", notify.Messages.Select(m => m.Message)));
        // D-Bus says the same: the line, and which parents, for tools to read.
        Assert.Equal("1 of 2 vGPUs active; waiting for parent 0000:00:03.0: driver not loaded", gvtd.Property("StatusText"));
        Assert.Equal("[\"0000:00:03.0\"]", gvtd.Property("AwaitedParents"));
    }

    [Fact]
    public void ServiceManagerGoneAfterReady_DaemonCarriesOn()
    {
        var notify = new NotifySocket();
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")), environment: new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
        });
        Assert.True(notify.WaitFor(m => m == "READY=1", TimeSpan.FromSeconds(10)), "no READY=1");

        notify.Dispose();
        Busctl.Run(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "Reconcile").EnsureSuccess();
        gvtd.Signal("TERM");

        Assert.True(gvtd.WaitForExit(TimeSpan.FromSeconds(5)), "did not exit within 5 s of SIGTERM");
        Assert.Equal(0, gvtd.ExitCode);
        Assert.Contains("cannot notify the service manager", gvtd.Log);
        Assert.DoesNotContain("   at ", gvtd.Log);
    }

    [Fact]
    public void Sigterm_ExitsCleanlyWithinFiveSecondsAndLeavesDevices()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        var before = ManagerTests.Devices(gvtd);
        var clock = Stopwatch.StartNew();

        gvtd.Signal("TERM");

        Assert.True(gvtd.WaitForExit(TimeSpan.FromSeconds(5)), "did not exit within 5 s of SIGTERM");
        Assert.Equal(0, gvtd.ExitCode);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        Assert.Equal([A, B], before);
        Assert.Equal(before, ManagerTests.Devices(gvtd));
        Assert.Contains("left in place", gvtd.Log);
    }

    [Fact]
    public void Sighup_ReloadsAndKeepsRunning()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));

        gvtd.Signal("HUP");

        gvtd.WaitUntil(() => gvtd.Log.Contains("Pass (SIGHUP)"), TimeSpan.FromSeconds(10));
        Assert.Equal("idle", gvtd.Property("State")?.Trim('"'));
    }

    [Fact]
    public void EditedFile_IsAppliedWithoutAnyCall()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));

        // Editors save by writing a new file and renaming it over the old one.
        File.WriteAllText(gvtd.ConfigPath + ".new", Of((A, "i915-GVTg_V5_4")));
        File.Move(gvtd.ConfigPath + ".new", gvtd.ConfigPath, overwrite: true);

        gvtd.WaitUntil(() => ManagerTests.Devices(gvtd).SequenceEqual([A]), TimeSpan.FromSeconds(10));
        gvtd.WaitUntil(() => gvtd.Log.Contains("Pass (file change)"), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void DropInInRuntimeDir_IsPickedUp()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        File.WriteAllText(Path.Combine(gvtd.RuntimeDir, "vgpus.d", "extra.yaml"),
            $"vgpus:\n  - uuid: {B}\n    type: i915-GVTg_V5_8\n    parent: \"{Parent}\"\n");

        gvtd.WaitUntil(() => ManagerTests.Devices(gvtd).Contains(B), TimeSpan.FromSeconds(10));
    }
}
