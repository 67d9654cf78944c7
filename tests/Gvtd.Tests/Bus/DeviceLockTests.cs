using Gvtd.Simulation;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Bus;

/// <summary>
/// In Linux 6.1 reading a PCI device's driver_override takes the device lock, and an unbind that
/// waits for a VM to let go of a VF holds that lock (docs/kernel/device-lock.md). The simulator
/// blocks that read the same way; gvtd, run as its own process, must keep answering, finish its
/// passes and feed the watchdog meanwhile, and take the VF back once the VM lets go.
/// </summary>
[Collection(SystemBusCollection.Name)]
public sealed class DeviceLockTests(SystemBusFixture bus)
{
    private const string Declared = "vgpus: []\nsriov:\n  - pf: \"0000:00:02.0\"\n    vfs: 2\n";
    private const string Vf = "0000:00:02.1";
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);
    private static readonly string VfPath = Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vf", Vf);

    [Fact]
    public void AnUnbindWaitingForAVm_HoldsUpNoPass_GvtdAnswersAndFeedsTheWatchdog()
    {
        using var notify = new NotifySocket();
        using var gvtd = GvtdProcess.Start(bus.Address, Declared, extraArguments: ["--simulate=gen12"], environment: new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
            ["WATCHDOG_USEC"] = "2000000",
        });
        Assert.True(notify.WaitFor(m => m == "READY=1", HangGuard), "hang guard: no READY=1 within 60 s");
        Assert.Equal("vfio-pci", VfDriver(gvtd));

        // As `echo 0000:00:02.1 > /sys/bus/pci/drivers/vfio-pci/unbind` while QEMU holds the VF.
        var kernel = SimulatedMdevCore.Open(gvtd.SysfsRoot);
        using var unbind = kernel.BeginStuckUnbind(Vf);
        var since = DateTime.UtcNow;

        BusctlResult reconcile;
        try
        {
            reconcile = Busctl.Run(bus.Address, ["--timeout=120", "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "Reconcile"],
                timeout: HangGuard);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"hang guard: Reconcile got no answer in 60 s while an unbind of {Vf} waited; State is {gvtd.Property("State")}, "
                + $"{notify.Messages.Count(m => m.Message == "WATCHDOG=1" && m.At > since)} WATCHDOG=1 since the unbind began", e);
        }
        Assert.True(reconcile.Success, $"Reconcile failed while the unbind waited: {reconcile.Stderr}\n{gvtd.Log}");
        gvtd.WaitUntil(() => gvtd.Property("State") is { } state && state != "reconciling", HangGuard);
        Assert.True(notify.WaitFor(_ => notify.Messages.Count(m => m.Message == "WATCHDOG=1" && m.At > since) >= 2, HangGuard),
            "hang guard: the watchdog was not fed while the unbind waited");

        // The VM lets go: the unbind ends, and gvtd binds the VF again as declared.
        unbind.Dispose();
        gvtd.WaitUntil(() => VfDriver(gvtd) == "vfio-pci", HangGuard);
    }

    private static string? VfDriver(GvtdProcess gvtd)
    {
        var result = Busctl.Run(gvtd.BusAddress, ["get-property", "org.gvtd.Gvtd1", VfPath, "org.gvtd.Gvtd1.VirtualFunction", "Driver"], json: true);
        return result.Success ? result.Json().RootElement.GetProperty("data").GetString() : null;
    }
}
