using Gvtd.Simulation;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Bus;

/// <summary>
/// In Linux 6.1 reading a PCI device's driver_override takes the device lock, and an unbind that
/// waits for a VM to let go of a VF holds that lock (docs/kernel/device-lock.md). The simulator
/// blocks that read the same way; gvtd, run as its own process, must keep answering, finish its
/// passes and feed the watchdog meanwhile, write nothing to the VF while the VM holds it (each such
/// write would wait on the lock, then land whenever the VM let go), say why, and take the VF back
/// once the VM lets go.
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
        // A /dev with vfio/ that gvtd watches, as on a host with vfio loaded: a VM's close there is
        // what tells gvtd it let go (the simulator's uevents reach only the listeners in its own process).
        using var dev = new TempDir();
        Directory.CreateDirectory(dev.Combine("vfio"));
        using var gvtd = GvtdProcess.Start(bus.Address, Declared, extraArguments: ["--simulate=gen12", "--dev-root", dev.Path], environment: new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
            ["WATCHDOG_USEC"] = "2000000",
        });
        Assert.True(notify.WaitFor(m => m == "READY=1", HangGuard), "hang guard: no READY=1 within 60 s");
        Assert.Equal("vfio-pci", VfDriver(gvtd));

        // QEMU opens the VF's group: a process in the /proc gvtd scans (with --simulate,
        // run/simulated-proc), and an open in /dev/vfio, which tells gvtd to look.
        var kernel = SimulatedMdevCore.Open(gvtd.SysfsRoot);
        var proc = Path.Combine(gvtd.RuntimeDir, "simulated-proc");
        kernel.HoldByVm(Vf, proc);
        var group = Path.GetFileName(new FileInfo(Path.Combine(gvtd.SysfsRoot, "bus", "pci", "devices", Vf, "iommu_group")).LinkTarget)!;
        File.WriteAllText(dev.Combine("vfio", group), "");
        gvtd.WaitUntil(() => VfProperty(gvtd, "Use") == "held", HangGuard);

        // As `echo 0000:00:02.1 > /sys/bus/pci/drivers/vfio-pci/unbind` while QEMU holds the VF.
        using var unbind = kernel.BeginStuckUnbind(Vf, proc);
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
        var replied = DateTime.UtcNow;
        Assert.True(reconcile.Success, $"Reconcile failed while the unbind waited: {reconcile.Stderr}\n{gvtd.Log}");
        Assert.True(kernel.WritesThatWaited(Vf) is [], $"gvtd wrote to {Vf} while a VM held it: {string.Join("; ", kernel.WritesThatWaited(Vf))}\n{gvtd.Log}");
        var plan = Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "PlanFunctions").RootElement;
        var action = Assert.Single(plan.GetProperty("data")[0].EnumerateArray());
        Assert.Equal("blocked", action[0].GetString());
        Assert.Contains($"VF {Vf} has no driver", action[2].GetString());
        Assert.Contains("an unbind of it waits for its VM", action[2].GetString());

        // The watchdog is still fed after the pass: a beat comes after Reconcile's reply. How often it
        // beats, on gvtd's own clock, is WatchdogTests' question (a real-time gap here would be the
        // test machine's load, not gvtd's).
        Assert.True(notify.WaitFor(_ => notify.Messages.Any(m => m.Message == "WATCHDOG=1" && m.At > replied), HangGuard),
            "hang guard: no WATCHDOG=1 within 60 s after Reconcile's reply");

        // The VM lets go: the unbind ends, and gvtd binds the VF again as declared.
        unbind.Dispose();
        File.WriteAllText(dev.Combine("vfio", group), ""); // an open and close in /dev/vfio, as the VM's exit makes
        gvtd.WaitUntil(() => VfDriver(gvtd) == "vfio-pci", HangGuard);
    }

    private static string? VfDriver(GvtdProcess gvtd) => VfProperty(gvtd, "Driver");

    private static string? VfProperty(GvtdProcess gvtd, string name)
    {
        var result = Busctl.Run(gvtd.BusAddress, ["get-property", "org.gvtd.Gvtd1", VfPath, "org.gvtd.Gvtd1.VirtualFunction", name], json: true);
        return result.Success ? result.Json().RootElement.GetProperty("data").GetString() : null;
    }
}
