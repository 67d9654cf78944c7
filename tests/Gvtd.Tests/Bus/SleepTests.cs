using Gvtd.Tests.Support;
using Tmds.DBus.Protocol;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>
/// Sleep on a GVT-g laptop, with a stand-in logind on the private bus driving whole cycles: gvtd
/// holds a delay inhibitor while it has vGPUs, sets the idle ones aside before it lets go of it,
/// and brings the same vGPUs back on resume. A real suspend cannot run here (see the README).
/// </summary>
[Collection(SystemBusCollection.Name)]
public sealed class SleepTests(SystemBusFixture bus)
{
    /// <summary>Every wait here is for a state, and this only a hang guard: no test verdict is a time.</summary>
    private static readonly TimeSpan Soon = HangGuard.Timeout;

    private static bool Exists(GvtdProcess gvtd, string uuid) => Directory.Exists(Path.Combine(gvtd.SysfsRoot, "bus", "mdev", "devices", uuid));

    private static string TypeOf(GvtdProcess gvtd, string uuid) =>
        System.IO.Path.GetFileName(new DirectoryInfo(Path.Combine(gvtd.SysfsRoot, "bus", "mdev", "devices", uuid, "mdev_type")).LinkTarget!);

    private static FakeLogind.Inhibitor HeldInhibitor(FakeLogind logind) => logind.WaitForHeld(Soon);

    [Fact]
    public async Task AFullCycle_SetsIdleVGpusAsideBeforeLettingGo_AndBringsTheSameOnesBack()
    {
        using var logind = new FakeLogind(bus.Address);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        var before = new[] { A, B }.Select(u => (u, TypeOf(gvtd, u))).ToList();

        var first = HeldInhibitor(logind);
        Assert.Equal(("sleep", "delay"), (first.What, first.Mode));
        Assert.Contains("gvtd", first.Who);
        Assert.Contains("suspend", first.Why);
        gvtd.WaitUntil(() => gvtd.Property("SleepInhibitor") == "True", Soon);
        Assert.Equal("awake", gvtd.Property("SleepState"));

        // What exists the moment the inhibitor is let go is what the suspend finds.
        logind.OnRelease = () => new[] { A, B }.Where(u => Exists(gvtd, u)).ToList();
        logind.PrepareForSleep(true);
        var leftAtRelease = (List<string>)(await first.Released.Task.WaitAsync(Soon))!;

        Assert.Empty(leftAtRelease);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep", Soon);
        Assert.Equal($"[\"{A}\",\"{B}\"]", gvtd.Property("SetAside"));
        Assert.Equal("False", gvtd.Property("SleepInhibitor"));
        Assert.NotEqual("degraded", gvtd.Property("State"));

        logind.PrepareForSleep(false);

        gvtd.WaitUntil(() => Exists(gvtd, A) && Exists(gvtd, B), Soon);
        Assert.Equal(before, new[] { A, B }.Select(u => (u, TypeOf(gvtd, u))).ToList());
        var second = HeldInhibitor(logind);
        Assert.NotSame(first, second);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "awake" && gvtd.Property("SetAside") == "[]", Soon);
        Assert.Contains(A, File.ReadAllText(Path.Combine(gvtd.StateDir, "owned")));
    }

    [Fact]
    public async Task OnResume_TheInhibitorForTheNextSuspend_IsTakenBeforeTheVGpusComeBack()
    {
        using var logind = new FakeLogind(bus.Address);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        var first = HeldInhibitor(logind);
        logind.PrepareForSleep(true);
        await first.Released.Task.WaitAsync(Soon);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep", Soon);

        // A suspend right after the resume must find the inhibitor held while the resume pass still
        // brings the vGPUs back: so it is taken before that pass writes anything.
        logind.OnInhibit = () => new[] { A, B }.Count(u => Exists(gvtd, u));
        logind.PrepareForSleep(false);

        var second = HeldInhibitor(logind);
        Assert.Equal(0, (int)second.AtTaking!);
        gvtd.WaitUntil(() => Exists(gvtd, A) && Exists(gvtd, B) && gvtd.Property("SleepState") == "awake", Soon);
        Assert.True(second.IsHeld);
    }

    [Fact]
    public async Task TheInhibitor_IsNeverHeldPastWhatLogindAllows()
    {
        // InhibitDelayMaxSec=0.5s leaves gvtd no time at all (it lets go 0.5 s early).
        using var logind = new FakeLogind(bus.Address) { DelayMax = TimeSpan.FromMilliseconds(500) };
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        var inhibitor = HeldInhibitor(logind);

        logind.PrepareForSleep(true);
        await inhibitor.Released.Task.WaitAsync(Soon);

        // The warning is the proof that gvtd let go on its deadline instead of after the pass (how
        // many milliseconds that took on a busy machine is no verdict).
        gvtd.WaitUntil(() => gvtd.Log.Contains("did not finish within logind's InhibitDelayMaxSec"), Soon);
    }

    [Fact]
    public async Task AVGpuAVmHolds_StaysThroughSleep_AndTheLogSaysTheSuspendMayFail()
    {
        using var logind = new FakeLogind(bus.Address);
        var dir = Directory.CreateTempSubdirectory("gvtd-daemon-").FullName;
        var proc = Path.Combine(dir, "proc");
        Directory.CreateDirectory(proc);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")), dir, extraArguments: ["--proc-root", proc]);
        var group = System.IO.Path.GetFileName(new DirectoryInfo(Path.Combine(gvtd.SysfsRoot, "bus", "mdev", "devices", A, "iommu_group")).LinkTarget!);
        Directory.CreateDirectory(Path.Combine(proc, "4242", "fd"));
        File.CreateSymbolicLink(Path.Combine(proc, "4242", "fd", "9"), $"/dev/vfio/{group}");
        var inhibitor = HeldInhibitor(logind);

        logind.PrepareForSleep(true);
        await inhibitor.Released.Task.WaitAsync(Soon);

        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep", Soon);
        Assert.True(Exists(gvtd, A), "the held vGPU was removed for sleep");
        Assert.False(Exists(gvtd, B), "the idle vGPU was not set aside");
        Assert.Equal($"[\"{B}\"]", gvtd.Property("SetAside"));
        Assert.Contains($"vGPU {A} (parent 0000:00:02.0) stays through sleep: in use by a VM, so it stays through sleep; the suspend may fail because of it", gvtd.Log);
    }

    [Fact]
    public async Task AVGpuGvtdDidNotCreate_IsNeverTouched()
    {
        using var logind = new FakeLogind(bus.Address);
        var dir = Directory.CreateTempSubdirectory("gvtd-daemon-").FullName;
        // A first run makes A; forgetting it in the ledger makes A someone else's.
        GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")), dir).Crash();
        File.WriteAllLines(Path.Combine(dir, "state", "owned"), File.ReadAllLines(Path.Combine(dir, "state", "owned")).Where(l => l != A));
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")), dir);
        Assert.DoesNotContain(A, File.ReadAllText(Path.Combine(dir, "state", "owned")));
        var inhibitor = HeldInhibitor(logind);

        logind.PrepareForSleep(true);
        await inhibitor.Released.Task.WaitAsync(Soon);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep", Soon);

        Assert.True(Exists(gvtd, A), "gvtd removed a vGPU it did not create");
        Assert.False(Exists(gvtd, B));
    }

    [Fact]
    public async Task APrepareForSleepNotFromLogind_IsIgnored()
    {
        using var logind = new FakeLogind(bus.Address);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var inhibitor = HeldInhibitor(logind);
        using var stranger = new DBusConnection(new DBusConnectionOptions(bus.Address) { AutoConnect = false });
        await stranger.ConnectAsync();

        FakeLogind.Emit(stranger, true);

        gvtd.WaitUntil(() => gvtd.Log.Contains("Ignoring a PrepareForSleep signal"), Soon);
        Assert.True(Exists(gvtd, A));
        Assert.True(inhibitor.IsHeld);
        Assert.Equal("awake", gvtd.Property("SleepState"));
    }

    [Fact]
    public void SleepKeep_HoldsNoInhibitor_AndKeepsEverything()
    {
        using var logind = new FakeLogind(bus.Address);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")).Replace("settings:\n", "settings:\n  sleep: keep\n"));
        // "awake" is said once gvtd follows logind and has decided about the inhibitor; until then
        // an empty list would prove nothing.
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "awake", Soon);
        Assert.Empty(logind.Inhibitors);

        logind.PrepareForSleep(true);

        gvtd.WaitUntil(() => gvtd.Log.Contains("keeping every vGPU (settings.sleep: keep)"), Soon);
        Assert.True(Exists(gvtd, A));
        Assert.Equal("keep", gvtd.Property("Sleep"));
    }

    [Fact]
    public void WithoutLogind_GvtdRunsAsBefore_AndSaysSoOnce()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        gvtd.WaitUntil(() => gvtd.Log.Contains("systemd-logind is not on the bus"), Soon);
        gvtd.Signal("HUP"); // more passes say nothing more

        // The pass's own line, not the signal's: the pass must have run for its silence to count.
        gvtd.WaitUntil(() => gvtd.Log.Contains("Pass (SIGHUP)"), Soon);
        Assert.True(Exists(gvtd, A));
        Assert.Equal("unavailable", gvtd.Property("SleepState"));
        Assert.Equal("False", gvtd.Property("SleepInhibitor"));
        Assert.Single(gvtd.Log.Split('\n'), l => l.Contains("systemd-logind is not on the bus"));
    }

    [Fact]
    public async Task LogindStartingAfterGvtd_IsFollowed()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        gvtd.WaitUntil(() => gvtd.Log.Contains("systemd-logind is not on the bus yet"), Soon);
        Assert.Equal("unavailable", gvtd.Property("SleepState"));

        // gvtd follows logind's name on the bus (NameOwnerChanged) and polls nothing; with a 1 h
        // interval and no pass to come, only that brings an inhibitor.
        using var logind = new FakeLogind(bus.Address);
        var inhibitor = HeldInhibitor(logind);

        logind.PrepareForSleep(true);
        await inhibitor.Released.Task.WaitAsync(Soon);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep", Soon);
        Assert.False(Exists(gvtd, A));
        logind.PrepareForSleep(false);
        gvtd.WaitUntil(() => Exists(gvtd, A) && gvtd.Property("SleepState") == "awake", Soon);
    }

    [Fact]
    public async Task LogindRestarting_GetsANewInhibitor_AndOnlyTheNewOneIsObeyed()
    {
        var old = new FakeLogind(bus.Address);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var first = HeldInhibitor(old);

        old.Dispose(); // an upgrade restarts logind: its name changes hands
        using var logind = new FakeLogind(bus.Address);
        var second = HeldInhibitor(logind);
        await first.Released.Task.WaitAsync(Soon); // the old instance's one is let go
        gvtd.WaitUntil(() => gvtd.Property("SleepInhibitor") == "True", Soon);

        logind.PrepareForSleep(true);
        await second.Released.Task.WaitAsync(Soon);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep" && !Exists(gvtd, A), Soon);
        logind.PrepareForSleep(false);
        gvtd.WaitUntil(() => Exists(gvtd, A) && gvtd.Property("SleepState") == "awake", Soon);
        HeldInhibitor(logind);
    }

    [Fact]
    public async Task StraySignals_AResumeWithoutSleepAndASleepTwice_AreHarmless()
    {
        using var logind = new FakeLogind(bus.Address);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var inhibitor = HeldInhibitor(logind);

        logind.PrepareForSleep(false); // a resume nobody slept for
        gvtd.WaitUntil(() => gvtd.Log.Contains("PrepareForSleep(false) while awake"), Soon);
        Assert.True(Exists(gvtd, A));
        Assert.True(inhibitor.IsHeld);
        Assert.Equal("awake", gvtd.Property("SleepState"));

        logind.PrepareForSleep(true);
        await inhibitor.Released.Task.WaitAsync(Soon);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep", Soon);
        logind.PrepareForSleep(true); // and again
        gvtd.WaitUntil(() => gvtd.Log.Contains("PrepareForSleep(true) again while asleep"), Soon);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep", Soon);
        Assert.False(Exists(gvtd, A));

        logind.PrepareForSleep(false);
        gvtd.WaitUntil(() => Exists(gvtd, A) && gvtd.Property("SleepState") == "awake", Soon);
        HeldInhibitor(logind);
    }

    [Fact]
    public async Task LogindLeavingMidCycle_BringsTheVGpusBack()
    {
        var logind = new FakeLogind(bus.Address);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var inhibitor = HeldInhibitor(logind);
        logind.PrepareForSleep(true);
        await inhibitor.Released.Task.WaitAsync(Soon);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep" && !Exists(gvtd, A), Soon);

        logind.Dispose(); // no resume will ever come from it

        gvtd.WaitUntil(() => Exists(gvtd, A), Soon);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "unavailable", Soon);
        Assert.Contains("systemd-logind left the bus while the machine was going to sleep; bringing the vGPUs back", gvtd.Log);
    }
}
