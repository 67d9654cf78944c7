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
}
