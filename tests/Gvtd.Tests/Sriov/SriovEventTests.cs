using Gvtd.Reconcile;
using Gvtd.Simulation;
using Gvtd.Systemd;
using Gvtd.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.Sriov;

/// <summary>
/// SR-IOV passes driven by the kernel's PCI uevents (bind, unbind, add, remove) on the simulated
/// Gen12 iGPU, with an interval of an hour; latencies on gvtd's own (fake) clock.
/// </summary>
public sealed class SriovEventTests : IAsyncLifetime
{
    private const string Pf = SimulatedSriovGpu.PciAddress;
    private readonly TempDir _dir = new();
    private readonly FakeClock _clock = new();
    private SimulatedHost _host = null!;
    private ReconcileWorker _worker = null!;

    private int NumVfs => _host.Reader.Read(functions: new HashSet<string> { Pf }).Sriov.Functions[Pf].NumVfs;

    private IEnumerable<string> VfDrivers => _host.Reader.Read(functions: new HashSet<string> { Pf }).Sriov.Functions[Pf].Vfs.Select(v => v.Driver);

    public async Task InitializeAsync()
    {
        _host = new SimulatedHost(_dir, time: _clock, gpu: SimulatedGpu.Gen12);
        _clock.Follow(_host.Reconciler);
        _host.Core.UnbindPf(); // the PF's driver is not there yet when gvtd starts
        _dir.Write(MainFile, $"settings:\n  interval: 1h\nsriov:\n  - pf: \"{Pf}\"\n    vfs: 3\n");
        _worker = new ReconcileWorker(_host.Store, _host.Reconciler, _host.Applier, _host.Writer, _host.VfioUsers, new ServiceManager(null, null), _clock, NullLogger<ReconcileWorker>.Instance);
        _clock.Follow(_worker, _host.Core);
        await Task.Run(() => _worker.StartAsync(CancellationToken.None));
        Assert.Equal([Pf], _host.Reconciler.Current.AwaitedParents);
    }

    public async Task DisposeAsync()
    {
        await _worker.StopAsync(CancellationToken.None);
        _worker.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void The_pf_driver_binding_late_gets_its_vfs_within_a_second()
    {
        _host.Core.BindPf();
        _clock.AdvanceUntil(() => NumVfs == 3 && VfDrivers.All(d => d == "vfio-pci"), TimeSpan.FromSeconds(1), "the VFs after the PF's driver bound");
    }

    [Fact]
    public void Vfs_removed_by_hand_and_a_vf_unbound_by_hand_are_back_within_a_second()
    {
        _host.Core.BindPf();
        _clock.AdvanceUntil(() => NumVfs == 3, TimeSpan.FromSeconds(1), "the first VFs");
        _clock.AdvanceBy(TimeSpan.FromSeconds(2));

        var vf = _host.Reader.Read(functions: new HashSet<string> { Pf }).Sriov.Functions[Pf].Vfs[0].Address;
        _host.Core.Write(Path.Combine(_host.Core.Root.Root, "bus", "pci", "drivers", "vfio-pci", "unbind"), vf);
        _clock.AdvanceUntil(() => VfDrivers.All(d => d == "vfio-pci"), TimeSpan.FromSeconds(1), "the VF rebound");

        _host.Core.Write(Path.Combine(_host.Core.Root.PciDevice(Pf), "sriov_numvfs"), "0");
        _clock.AdvanceUntil(() => NumVfs == 3 && VfDrivers.All(d => d == "vfio-pci"), TimeSpan.FromSeconds(1), "the VFs set to 0 by hand");
    }
}
