using Gvtd.Tests.Support;

namespace Gvtd.Tests.Bus;

/// <summary>
/// Sleep with SR-IOV VFs (the i915 SR-IOV suspend hang): with a stand-in logind on the private bus,
/// gvtd holds the delay inhibitor while it has VFs of its own, sets them to 0 before it lets go,
/// and enables them again on resume.
/// </summary>
[Collection(SystemBusCollection.Name)]
public sealed class SriovSleepTests(SystemBusFixture bus)
{
    /// <summary>A hang guard only: every wait here is for a state.</summary>
    private static readonly TimeSpan Soon = HangGuard.Timeout;
    private const string Pf = "0000:00:02.0";

    private static int Vfs(GvtdProcess gvtd) =>
        Directory.EnumerateFileSystemEntries(Path.Combine(gvtd.SysfsRoot, "bus", "pci", "devices", Pf), "virtfn*").Count();

    [Fact]
    public async Task Idle_vfs_gvtd_enabled_go_to_zero_before_sleep_and_come_back_on_resume()
    {
        using var logind = new FakeLogind(bus.Address);
        using var gvtd = GvtdProcess.Start(bus.Address, $"sriov:\n  - pf: \"{Pf}\"\n    vfs: 2\n", extraArguments: ["--simulate=gen12"]);
        Assert.Equal(2, Vfs(gvtd));

        // gvtd has VFs of its own, so it holds the delay inhibitor.
        var inhibitor = logind.WaitForHeld(Soon);
        logind.OnRelease = () => Vfs(gvtd);
        logind.PrepareForSleep(true);

        Assert.Equal(0, (int)(await inhibitor.Released.Task.WaitAsync(Soon))!);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep", Soon);
        Assert.Equal($"[\"{Pf}\"]", gvtd.Property("SetAside"));
        Assert.NotEqual("degraded", gvtd.Property("State"));

        logind.PrepareForSleep(false);
        gvtd.WaitUntil(() => Vfs(gvtd) == 2 && gvtd.Property("SetAside") == "[]", Soon);
        Assert.Contains($"sriov {Pf}", File.ReadAllText(Path.Combine(gvtd.StateDir, "owned")));
    }

    [Fact]
    public async Task A_resume_pass_held_up_by_a_stuck_write_does_not_hold_up_the_next_suspend()
    {
        const string vf = "0000:00:02.1";
        // InhibitDelayMaxSec 2 s: the resume waits for its pass 2 s, a suspend for gvtd 1.5 s; a
        // write gvtd waits on gives up after 10 s. Only the order of these counts, never a time.
        using var logind = new FakeLogind(bus.Address) { DelayMax = TimeSpan.FromSeconds(2) };
        using var gvtd = GvtdProcess.Start(bus.Address, $"settings:\n  interval: 1h\nsriov:\n  - pf: \"{Pf}\"\n    vfs: 2\n", extraArguments: ["--simulate=gen12"]);
        var first = logind.WaitForHeld(Soon);
        logind.PrepareForSleep(true);
        await first.Released.Task.WaitAsync(Soon);
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep" && Vfs(gvtd) == 0, Soon);

        // While asleep, someone enables the VFs and binds the first, and an unbind of it then waits
        // for a VM (as `driverctl` would): the resume pass's bind of that VF waits on its device lock.
        var kernel = Gvtd.Simulation.SimulatedMdevCore.Open(gvtd.SysfsRoot);
        var pfDir = Path.Combine(gvtd.SysfsRoot, "bus", "pci", "devices", Pf);
        kernel.Write(Path.Combine(pfDir, "sriov_numvfs"), "2");
        kernel.Write(Path.Combine(gvtd.SysfsRoot, "bus", "pci", "devices", vf, "driver_override"), "vfio-pci");
        kernel.Write(Path.Combine(gvtd.SysfsRoot, "bus", "pci", "drivers_probe"), vf);
        // Its VM is one gvtd does not see (a process outside the /proc it scans): what this test is
        // about is a write of the resume pass that does not return, not who holds the VF.
        using var unseen = new TempDir();
        var unbind = kernel.BeginStuckUnbind(vf, unseen.Path);

        logind.PrepareForSleep(false);
        var second = logind.WaitForHeld(Soon);
        gvtd.WaitUntil(() => gvtd.Log.Contains("The resume pass has not finished after 2s"), Soon);

        // The next suspend comes while that pass still waits on the write: gvtd answers it.
        logind.OnRelease = () => gvtd.Log.Contains("Resumed:");
        logind.PrepareForSleep(true);
        Assert.False((bool)(await second.Released.Task.WaitAsync(Soon))!, "the suspend waited for the resume pass to end");
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep", Soon);
        // gvtd goes before the VM lets go: its write, let through, would bind the VF while the
        // simulator tidies the VF's directory.
        gvtd.Dispose();
        unbind.Dispose();
    }
}
