using Gvtd.Planning;
using Gvtd.Reconcile;
using Gvtd.Simulation;
using Gvtd.Sysfs;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Sriov;

/// <summary>
/// SR-IOV passes over the simulated Gen12 iGPU, whose writes follow the kernel's SR-IOV core as a
/// probe of Linux 6.1 saw it (docs/kernel/sriov.md: EBUSY for N to M, ENOENT without a PF driver,
/// autoprobe letting the host driver grab new VFs, drivers_probe succeeding even when nothing binds).
/// </summary>
public sealed class SriovReconcileTests : IDisposable
{
    private const string Pf = SimulatedSriovGpu.PciAddress;
    private readonly TempDir _dir = new();
    private readonly SimulatedHost _host;

    public SriovReconcileTests() => _host = new SimulatedHost(_dir, gpu: SimulatedGpu.Gen12);

    public void Dispose() => _dir.Dispose();

    private static string Declare(int vfs, string extra = "") => $"""
        vgpus: []
        sriov:
          - pf: "{Pf}"
            vfs: {vfs}
        {extra}
        """;

    private PhysicalFunction Observed() => _host.Reader.Read(functions: new HashSet<string> { Pf }).Sriov.Functions[Pf];

    private string PfFile(string name) => Path.Combine(Observed().SysfsPath, name);

    private List<(string Path, string Value)> WritesTo(string file) => _host.Writer.Writes.Where(w => Path.GetFileName(w.Path) == file).ToList();

    [Fact]
    public async Task Declared_vfs_are_enabled_with_autoprobe_off_and_bound_to_vfio_pci()
    {
        Assert.True(_host.Configure(Declare(2)));
        await _host.PassAsync();

        var pf = Observed();
        Assert.Equal(2, pf.NumVfs);
        Assert.All(pf.Vfs, vf => Assert.Equal("vfio-pci", vf.Driver));
        Assert.False(pf.AutoProbe);
        // Autoprobe went off before the count was written, so the host's i915 never saw the VFs.
        var order = _host.Writer.Writes.Select(w => Path.GetFileName(w.Path)).ToList();
        Assert.True(order.IndexOf("sriov_drivers_autoprobe") < order.IndexOf("sriov_numvfs"));
        Assert.DoesNotContain(_host.Writer.Writes, w => w.Path.EndsWith("/new_id") || w.Path.EndsWith("/unbind"));
        Assert.Contains($"sriov {Pf}", _host.LedgerText);
        var status = Assert.Single(_host.Reconciler.Current.Functions);
        Assert.Equal(VGpuState.Active, status.State);
        Assert.Equal(DaemonState.Idle, _host.Reconciler.Current.State);
    }

    [Fact]
    public async Task A_count_change_goes_through_zero()
    {
        _host.Configure(Declare(2));
        await _host.PassAsync();
        _host.Configure(Declare(3));
        await _host.PassAsync();

        Assert.Equal(["2", "0", "3"], WritesTo("sriov_numvfs").Select(w => w.Value));
        Assert.Equal(3, Observed().NumVfs);
        // A re-created VF has lost its driver_override; gvtd writes it again and the VF is bound.
        Assert.All(Observed().Vfs, vf => Assert.Equal("vfio-pci", vf.Driver));
    }

    [Fact]
    public async Task A_count_change_waits_while_a_vm_holds_any_vf_and_happens_once_it_lets_go()
    {
        _host.Configure(Declare(2));
        await _host.PassAsync();
        var held = Observed().Vfs[1];
        _host.HoldOpen(4242, $"/dev/vfio/{held.IommuGroup}");

        _host.Configure(Declare(3));
        await _host.PassAsync();

        Assert.Equal(2, Observed().NumVfs);
        Assert.Equal(["2"], WritesTo("sriov_numvfs").Select(w => w.Value));
        var action = Assert.Single(_host.Reconciler.Current.FunctionPlan);
        Assert.Equal(FunctionActionKind.Blocked, action.Kind);
        Assert.Equal(BlockReason.InUse, action.Blocked);
        Assert.Contains($"VF {held.Address} is in use by a VM", action.Reason);
        Assert.True(Assert.Single(_host.Reconciler.Current.Functions).InUse);

        _host.Release(4242);
        await _host.PassAsync();
        Assert.Equal(3, Observed().NumVfs);
    }

    [Fact]
    public async Task A_pf_without_its_driver_is_awaited_and_set_up_when_the_driver_binds()
    {
        _host.Core.UnbindPf();
        _host.Configure(Declare(2));
        await _host.PassAsync();

        Assert.Equal([Pf], _host.Reconciler.Current.AwaitedParents);
        Assert.Contains("no driver is bound", Assert.Single(_host.Reconciler.Current.Functions).LastError);
        Assert.Empty(WritesTo("sriov_numvfs"));

        _host.Core.BindPf();
        await _host.PassAsync();
        Assert.Equal(2, Observed().NumVfs);
        Assert.Empty(_host.Reconciler.Current.AwaitedParents);
    }

    [Fact]
    public async Task Vfs_set_to_zero_by_hand_come_back()
    {
        _host.Configure(Declare(2));
        await _host.PassAsync();
        _host.Core.Write(PfFile("sriov_numvfs"), "0");
        Assert.Equal(0, Observed().NumVfs);

        await _host.PassAsync();
        Assert.Equal(2, Observed().NumVfs);
        Assert.All(Observed().Vfs, vf => Assert.Equal("vfio-pci", vf.Driver));
    }

    [Fact]
    public async Task Vfs_gvtd_did_not_enable_are_left_alone_when_undeclared_and_when_declared_differently()
    {
        _host.Core.Write(PfFile("sriov_numvfs"), "3"); // by hand, autoprobe on: i915 takes them
        _host.Configure("vgpus: []\n");
        await _host.PassAsync();
        Assert.Equal(FunctionActionKind.Ignore, Assert.Single(_host.Reconciler.Current.FunctionPlan).Kind);

        _host.Configure(Declare(2));
        await _host.PassAsync();
        var action = Assert.Single(_host.Reconciler.Current.FunctionPlan);
        Assert.Equal(BlockReason.NotOwned, action.Blocked);
        Assert.Equal(3, Observed().NumVfs);
        // gvtd wrote nothing at all: the VFs and i915's hold on them are as the person left them.
        Assert.Empty(_host.Writer.Writes);
        Assert.All(Observed().Vfs, vf => Assert.Equal("i915", vf.Driver));
    }

    [Fact]
    public async Task Vfs_gvtd_enabled_are_disabled_once_undeclared_and_forgotten()
    {
        _host.Configure(Declare(2));
        await _host.PassAsync();
        _host.Configure("vgpus: []\n");
        await _host.PassAsync();

        Assert.Equal(0, Observed().NumVfs);
        Assert.DoesNotContain("sriov", _host.LedgerText.Split('\n').Where(l => !l.StartsWith('#')).FirstOrDefault() ?? "");
    }

    [Fact]
    public async Task Provisioning_values_are_written_to_every_vf_before_the_vfs_are_enabled()
    {
        _host.Configure(Declare(2, "    provision:\n      exec_quantum_ms: 20\n      preempt_timeout_us: 40000"));
        await _host.PassAsync();

        var writes = _host.Writer.Writes.Select(w => w.Path).ToList();
        var enable = writes.FindIndex(p => p.EndsWith("sriov_numvfs"));
        var provisioned = writes.Select((p, i) => (p, i)).Where(x => x.p.EndsWith("exec_quantum_ms")).ToList();
        Assert.Equal(2, provisioned.Count);
        Assert.All(provisioned, x => Assert.True(x.i < enable));
        var values = Observed().Provisioning!.Values;
        Assert.Equal("20", values[0]["exec_quantum_ms"]);
        Assert.Equal("40000", values[1]["preempt_timeout_us"]);
        Assert.Equal("0", values[2]["exec_quantum_ms"]); // VF 3 is not enabled, nor provisioned
    }

    [Fact]
    public async Task A_provisioning_value_the_driver_does_not_offer_is_refused_naming_what_it_offers()
    {
        _host.Configure(Declare(2, "    provision:\n      gpu_speed: 11"));
        await _host.PassAsync();

        var status = Assert.Single(_host.Reconciler.Current.Functions);
        Assert.Equal(VGpuState.Blocked, status.State);
        Assert.Contains("gpu_speed is not offered by i915 (i915 prelim_iov)", status.LastError);
        Assert.Contains("exec_quantum_ms", status.LastError);
        Assert.Empty(WritesTo("sriov_numvfs"));
    }

    [Fact]
    public async Task More_vfs_than_the_device_offers_are_refused_before_any_write()
    {
        _host.Configure(Declare(9));
        await _host.PassAsync();
        Assert.Contains("offers 7 (sriov_totalvfs", Assert.Single(_host.Reconciler.Current.Functions).LastError);
        Assert.Empty(_host.Writer.Writes);
    }

    [Fact]
    public async Task A_vf_bound_to_another_driver_by_hand_is_not_taken_from_it()
    {
        _host.Configure(Declare(2));
        await _host.PassAsync();
        var vf = Observed().Vfs[0];
        _host.Core.Write(Path.Combine(_host.Core.Root.Root, "bus", "pci", "drivers", "vfio-pci", "unbind"), vf.Address);
        _host.Core.Write(Path.Combine(vf.SysfsPath, "driver_override"), "i915");
        _host.Core.Write(_host.Core.Root.PciDriversProbe, vf.Address);

        await _host.PassAsync();
        var action = Assert.Single(_host.Reconciler.Current.FunctionPlan);
        Assert.Equal(BlockReason.NotOwned, action.Blocked);
        Assert.Contains($"VF {vf.Address} is bound to i915", action.Reason);
        Assert.Equal("i915", Observed().Vfs[0].Driver);
    }

    [Fact]
    public async Task A_vf_left_without_a_driver_is_bound_again()
    {
        _host.Configure(Declare(2));
        await _host.PassAsync();
        var vf = Observed().Vfs[1];
        _host.Core.Write(Path.Combine(_host.Core.Root.Root, "bus", "pci", "drivers", "vfio-pci", "unbind"), vf.Address);

        await _host.PassAsync();
        Assert.Equal("vfio-pci", Observed().Vfs[1].Driver);
    }

    [Fact]
    public async Task Around_sleep_idle_vfs_gvtd_enabled_are_set_aside_and_come_back_on_resume()
    {
        _host.Configure(Declare(2));
        await _host.PassAsync();
        _host.Reconciler.Asleep = true;
        await _host.PassAsync();
        Assert.Equal(0, Observed().NumVfs);
        Assert.Contains(Pf, _host.Reconciler.Current.Sleep.SetAside);
        Assert.NotEqual(DaemonState.Degraded, _host.Reconciler.Current.State);

        _host.Reconciler.Asleep = false;
        await _host.PassAsync();
        Assert.Equal(2, Observed().NumVfs);
    }

    [Fact]
    public async Task Around_sleep_held_vfs_stay()
    {
        _host.Configure(Declare(2));
        await _host.PassAsync();
        _host.HoldOpen(77, $"/dev/vfio/{Observed().Vfs[0].IommuGroup}");
        _host.Reconciler.Asleep = true;
        await _host.PassAsync();
        Assert.Equal(2, Observed().NumVfs);
        Assert.Contains("stay through sleep", Assert.Single(_host.Reconciler.Current.FunctionPlan).Reason);
    }
}
