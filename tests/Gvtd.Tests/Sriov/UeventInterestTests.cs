using Gvtd.Reconcile;
using Gvtd.Simulation;
using Gvtd.Sysfs;
using Gvtd.Systemd;
using Gvtd.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.Sriov;

/// <summary>
/// Which PCI uevents start a pass: those of the functions gvtd looks at (declared or owned PFs and
/// every VF they have or can have, display controllers with prune: all), never a NIC's or an NVMe
/// drive's that nobody declared. The worker decides from what the last pass published, reading no sysfs.
/// </summary>
public sealed class UeventInterestTests : IAsyncLifetime
{
    private const string Pf = SimulatedSriovGpu.PciAddress;
    private readonly TempDir _dir = new();
    private readonly FakeClock _clock = new();
    private SimulatedHost _host = null!;
    private Tap _kernel = null!;
    private ReconcileWorker _worker = null!;

    private static Uevent Pci(string action, string address, params (string Key, string Value)[] more) =>
        new(action, "/devices/pci0000:3a/0000:3a:00.0/" + address,
            new Dictionary<string, string>(more.Select(m => KeyValuePair.Create(m.Key, m.Value))) { ["SUBSYSTEM"] = "pci" });

    public async Task InitializeAsync()
    {
        _host = new SimulatedHost(_dir, time: _clock, gpu: SimulatedGpu.Gen12);
        _clock.Follow(_host.Reconciler);
        _dir.Write(MainFile, $"settings:\n  interval: 1h\nsriov:\n  - pf: \"{Pf}\"\n    vfs: 2\n");
        _kernel = new Tap(_host.Writer);
        _worker = new ReconcileWorker(_host.Store, _host.Reconciler, _host.Applier, _kernel, _host.VfioUsers, new ServiceManager(null, null), _clock, NullLogger<ReconcileWorker>.Instance);
        _clock.Follow(_worker, _host.Core);
        await Task.Run(() => _worker.StartAsync(CancellationToken.None)); // returns after the first pass
        _clock.AdvanceBy(TimeSpan.FromSeconds(2)); // the uevents of its own writes settle, and the worker waits
    }

    public async Task DisposeAsync()
    {
        await _worker.StopAsync(CancellationToken.None);
        _worker.Dispose();
        _dir.Dispose();
    }

    /// <summary>Whether raising <paramref name="e"/> handed the worker a request (the filter runs on the raising thread).</summary>
    private bool StartsAPass(Uevent e)
    {
        var handed = _worker.RequestsHanded;
        _kernel.Raise(e);
        return _worker.RequestsHanded > handed;
    }

    [Fact]
    public void Events_of_pci_devices_nobody_declared_start_no_pass()
    {
        // An E810-style NIC's VFs binding to iavf, an NVMe drive arriving, a USB controller's driver going.
        Assert.False(StartsAPass(Pci("bind", "0000:3b:01.0", ("DRIVER", "iavf"), ("PCI_CLASS", "20000"))), "a NIC's VF binding started a pass");
        Assert.False(StartsAPass(Pci("add", "0000:3c:00.0", ("PCI_CLASS", "10802"))), "an NVMe drive arriving started a pass");
        Assert.False(StartsAPass(Pci("unbind", "0000:00:14.0")), "a USB controller's unbind started a pass");
    }

    [Fact]
    public void Events_of_the_declared_pf_and_of_its_vfs_before_they_exist_start_passes()
    {
        Assert.True(StartsAPass(Pci("unbind", Pf)));
        Assert.True(StartsAPass(Pci("unbind", "0000:00:02.1")));
        // 0000:00:02.5 is no VF yet: it would be the fifth (sriov_offset 1, stride 1).
        Assert.True(StartsAPass(Pci("add", "0000:00:02.5", ("PCI_CLASS", "38000"))));
        // Lost events, and mdev and VFIO group events, count as before.
        Assert.True(StartsAPass(Uevent.Lost));
        Assert.True(StartsAPass(new Uevent("add", "/devices/virtual/vfio/7", new Dictionary<string, string> { ["SUBSYSTEM"] = "vfio" })));
    }

    [Fact]
    public void The_published_interest_names_the_pf_and_every_vf_it_can_have()
    {
        var interest = _host.Reconciler.UeventInterest;
        var total = _host.Reader.Read(functions: new HashSet<string> { Pf }).Sriov.Functions[Pf].TotalVfs;
        Assert.Equal([Pf, .. Enumerable.Range(1, total).Select(n => $"0000:00:02.{n}")], interest.Addresses.Order(StringComparer.Ordinal));
        Assert.False(interest.DisplayControllers);
    }

    [Theory]
    [InlineData("30000", true)]  // VGA
    [InlineData("38000", true)]  // display controller, other
    [InlineData("20000", false)] // Ethernet
    [InlineData(null, false)]    // an unbind carries no class
    public void With_prune_all_display_controllers_count_by_their_class(string? pciClass, bool matters)
    {
        var interest = new UeventInterest(new HashSet<string>(), DisplayControllers: true);
        var e = pciClass is null ? Pci("unbind", "0000:03:00.1") : Pci("add", "0000:03:00.1", ("PCI_CLASS", pciClass));
        Assert.Equal(matters, e.MattersTo(interest));
    }

    /// <summary>The simulated kernel, plus events a test raises itself (of PCI devices the simulator does not have).</summary>
    private sealed class Tap(IKernel inner) : IKernel
    {
        private Action<Uevent>? _onEvent;

        public void Raise(Uevent e) => _onEvent!(e);

        public void Write(string path, string value) => inner.Write(path, value);

        public IDisposable? Listen(Action<Uevent> onEvent, Action<string> onStopped, out string? error)
        {
            _onEvent = onEvent;
            return inner.Listen(onEvent, onStopped, out error);
        }
    }
}
