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

        Assert.True(notify.WaitFor(m => m == "READY=1", HangGuard.Timeout), "no READY=1 (hang guard)");
        Assert.True(notify.WaitFor(m => m == "STATUS=1 of 1 vGPUs active", HangGuard.Timeout), string.Join(", ", notify.Messages));
        // With a 1 h interval the loop still wakes every half watchdog period to say it is alive: the
        // beats go on after start-up (only those after the mark count), however slowly a busy machine
        // delivers them.
        var mark = notify.Mark();
        Assert.True(notify.WaitFor("WATCHDOG=1", 4, mark, HangGuard.Timeout),
            $"hang guard: {notify.Messages.Skip(mark).Count(m => m.Message == "WATCHDOG=1")} WATCHDOG=1 in {HangGuard.Timeout.TotalSeconds} s after the mark " +
            $"(watchdog {watchdog.TotalMilliseconds} ms), {notify.Count("WATCHDOG=1")} since start-up");

        gvtd.Signal("TERM");
        Assert.True(gvtd.WaitForExit(HangGuard.Timeout), $"hang guard: did not exit within {HangGuard.Timeout.TotalSeconds} s of SIGTERM");
        Assert.Equal(0, gvtd.ExitCode);
        Assert.True(notify.WaitFor(m => m == "STOPPING=1", HangGuard.Timeout), "no STOPPING=1 (hang guard)");
    }

    [Fact]
    public void Ready_ComesAfterTheFirstPass_SoUnitsOrderedAfterGvtdFindTheDevices()
    {
        using var notify = new NotifySocket();
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")), environment: new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
        });

        Assert.True(notify.WaitFor(m => m == "READY=1", HangGuard.Timeout), "no READY=1 (hang guard)");
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

        Assert.True(notify.WaitFor(m => m == "READY=1", HangGuard.Timeout), "no READY=1 (hang guard)");
        Assert.True(notify.WaitFor(m => m == "STATUS=1 of 2 vGPUs active; waiting for parent 0000:00:03.0: driver not loaded", HangGuard.Timeout),
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
        Assert.True(notify.WaitFor(m => m == "READY=1", HangGuard.Timeout), "no READY=1 (hang guard)");

        notify.Dispose();
        Busctl.Run(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "Reconcile").EnsureSuccess();
        gvtd.Signal("TERM");

        Assert.True(gvtd.WaitForExit(HangGuard.Timeout), $"hang guard: did not exit within {HangGuard.Timeout.TotalSeconds} s of SIGTERM");
        Assert.Equal(0, gvtd.ExitCode);
        Assert.Contains("cannot notify the service manager", gvtd.Log);
        Assert.DoesNotContain("   at ", gvtd.Log);
    }

    [Fact]
    public void Sigterm_ExitsWithZeroAndLeavesTheDevicesInPlace()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        var before = ManagerTests.Devices(gvtd);

        gvtd.Signal("TERM");

        // How fast it stops is a benchmark's business; the gate checks what stopping did.
        Assert.True(gvtd.WaitForExit(HangGuard.Timeout), $"hang guard: did not exit within {HangGuard.Timeout.TotalSeconds} s of SIGTERM");
        Assert.Equal(0, gvtd.ExitCode);
        Assert.Equal([A, B], before);
        Assert.Equal(before, ManagerTests.Devices(gvtd));
        Assert.Contains("left in place", gvtd.Log);
    }

    [Fact]
    public void Sighup_ReloadsAnEditNothingElseSaw_AndKeepsRunning()
    {
        // The file gvtd reads is a link to one in a directory it does not watch, so an edit there
        // raises no file event; and gvtd starts on devices an earlier run made, so no uevent from
        // creating them brings a pass either (any pass re-reads changed files). Only SIGHUP can make
        // this gvtd see the edit.
        var dir = Directory.CreateTempSubdirectory("gvtd-daemon-").FullName;
        GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")), dir).Crash();
        var unwatched = Path.Combine(dir, "unwatched", "vgpus.yaml");
        Directory.CreateDirectory(Path.GetDirectoryName(unwatched)!);
        File.Move(Path.Combine(dir, "etc", "vgpus.yaml"), unwatched);
        File.CreateSymbolicLink(Path.Combine(dir, "etc", "vgpus.yaml"), unwatched);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")), dir);
        Assert.Equal([A, B], ManagerTests.Devices(gvtd));
        gvtd.WaitUntil(() => gvtd.Log.Contains("Pass (start): nothing to change"), HangGuard.Timeout);

        File.WriteAllText(unwatched, Of((A, "i915-GVTg_V5_4")));
        gvtd.Signal("HUP");

        gvtd.WaitUntil(() => ManagerTests.Devices(gvtd).SequenceEqual([A]), HangGuard.Timeout);
        gvtd.WaitUntil(() => gvtd.Log.Contains("Pass (SIGHUP): created 0, removed 1, failed 0"), HangGuard.Timeout);
        gvtd.WaitUntilIdle();
    }

    [Fact]
    public void Sighup_Reloads_EvenWhenGvtdWasStartedWithSighupIgnored()
    {
        // nohup (as a shell, a CI runner or a test host may) starts gvtd with SIGHUP ignored, and
        // .NET installs no handler over an inherited SIG_IGN: gvtd must take SIGHUP back.
        var launched = Process.Start(new ProcessStartInfo("nohup", ["grep", "^SigIgn:", "/proc/self/status"]) { RedirectStandardOutput = true })!;
        var ignoredByNohup = launched.StandardOutput.ReadToEnd();
        launched.WaitForExit();
        Assert.True(HasSighup(ignoredByNohup), $"nohup does not ignore SIGHUP here ({ignoredByNohup.Trim()}): the test would prove nothing");
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")), launcher: "nohup");
        var status = File.ReadAllLines($"/proc/{gvtd.Pid}/status");
        Assert.True(HasSighup(status.Single(l => l.StartsWith("SigCgt:"))), "gvtd does not catch SIGHUP");

        gvtd.Signal("HUP");

        gvtd.WaitUntil(() => gvtd.Log.Contains("Pass (SIGHUP)"), HangGuard.Timeout);
        gvtd.WaitUntilIdle();
    }

    /// <summary>Whether a /proc status mask line ("SigIgn:\t0000000000000001") has SIGHUP (bit 0) set.</summary>
    private static bool HasSighup(string line) =>
        (Convert.ToUInt64(line.Split(':')[1].Trim(), 16) & 1) != 0;

    [Fact]
    public void EditedFile_IsAppliedWithoutAnyCall()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));

        // Editors save by writing a new file and renaming it over the old one.
        File.WriteAllText(gvtd.ConfigPath + ".new", Of((A, "i915-GVTg_V5_4")));
        File.Move(gvtd.ConfigPath + ".new", gvtd.ConfigPath, overwrite: true);

        gvtd.WaitUntil(() => ManagerTests.Devices(gvtd).SequenceEqual([A]), HangGuard.Timeout);
        gvtd.WaitUntil(() => gvtd.Log.Contains("Pass (file change)"), HangGuard.Timeout);
    }

    [Fact]
    public void DropInInRuntimeDir_IsPickedUp()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        File.WriteAllText(Path.Combine(gvtd.RuntimeDir, "vgpus.d", "extra.yaml"),
            $"vgpus:\n  - uuid: {B}\n    type: i915-GVTg_V5_8\n    parent: \"{Parent}\"\n");

        gvtd.WaitUntil(() => ManagerTests.Devices(gvtd).Contains(B), HangGuard.Timeout);
    }
}
