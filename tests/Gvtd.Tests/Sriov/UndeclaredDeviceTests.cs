using Gvtd.Planning;
using Gvtd.Simulation;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Sriov;

/// <summary>
/// gvtd looks only at what it was asked about (issue 24): a PF is read and written only if it is
/// declared, gvtd's ledger says gvtd enabled its VFs, or (for prune: all) it is a display
/// controller. The host's own SR-IOV NIC (an E810: PF on ice, VFs on iavf) is never touched, and
/// a VF on a host driver is in use by the host.
/// </summary>
public sealed class UndeclaredDeviceTests : IDisposable
{
    private const string Gpu = SimulatedSriovGpu.PciAddress;
    private const string Nic = "0000:3b:00.0";
    private readonly TempDir _dir = new();
    private readonly SimulatedHost _host;

    public UndeclaredDeviceTests() => _host = new SimulatedHost(_dir, gpu: SimulatedGpu.Gen12);

    public void Dispose() => _dir.Dispose();

    private const string PruneAll = "settings:\n  prune: all\nvgpus: []\n";

    /// <summary>An E810-style NIC as the kernel shows it: class 0x020000, PF on ice, 4 VFs enabled and on iavf.</summary>
    private void AddNic()
    {
        var tree = new SysfsTree(_host.Core.Root.Root, _dir.Combine("proc"));
        var dir = $"devices/pci0000:3a/{Nic}";
        tree.Dir("bus/pci/drivers/ice");
        tree.Dir("bus/pci/drivers/iavf");
        tree.File(dir + "/class", "0x020000\n");
        tree.File(dir + "/vendor", "0x8086\n");
        tree.File(dir + "/device", "0x1592\n");
        tree.File(dir + "/sriov_totalvfs", "256\n");
        tree.File(dir + "/sriov_numvfs", "4\n");
        tree.File(dir + "/sriov_drivers_autoprobe", "1\n");
        tree.Link(dir + "/driver", "../../../bus/pci/drivers/ice");
        tree.Link($"bus/pci/devices/{Nic}", $"../../../{dir}");
        for (var i = 0; i < 4; i++)
        {
            var vf = $"0000:3b:01.{i}";
            var vfDir = $"devices/pci0000:3a/{vf}";
            tree.File(vfDir + "/class", "0x020000\n");
            tree.File(vfDir + "/driver_override", "(null)\n");
            tree.Link(vfDir + "/driver", "../../../bus/pci/drivers/iavf");
            tree.Link(vfDir + "/physfn", $"../{Nic}");
            tree.Dir($"kernel/iommu_groups/{60 + i}");
            tree.Link(vfDir + "/iommu_group", $"../../../kernel/iommu_groups/{60 + i}");
            tree.Link(dir + $"/virtfn{i}", $"../{vf}");
            tree.Link($"bus/pci/devices/{vf}", $"../../../{vfDir}");
        }
    }

    private int NicVfs => Directory.EnumerateFileSystemEntries(_host.Core.Root.PciDevice(Nic), "virtfn*").Count();

    [Fact]
    public async Task An_undeclared_nic_is_never_written_to_even_with_prune_all_and_the_plan_says_why()
    {
        AddNic();
        Assert.True(_host.Configure(PruneAll));
        await _host.PassAsync();
        await _host.PassAsync();

        Assert.Empty(_host.Writer.Writes);
        Assert.Equal(4, NicVfs);
        var action = Assert.Single(_host.Reconciler.Current.FunctionPlan, a => a.Address == Nic);
        Assert.Equal(FunctionActionKind.Ignore, action.Kind);
        Assert.Contains("not a display controller", action.Reason);
        Assert.Contains("whatever prune says", action.Reason);
    }

    [Fact]
    public async Task An_undeclared_display_pf_with_free_vfs_on_vfio_pci_is_disabled_with_prune_all()
    {
        // VFs enabled by hand with autoprobe off, then bound to vfio-pci by hand: nobody uses them.
        var pf = _host.Core.Root.PciDevice(Gpu);
        _host.Core.Write(Path.Combine(pf, "sriov_drivers_autoprobe"), "0");
        _host.Core.Write(Path.Combine(pf, "sriov_numvfs"), "2");
        foreach (var vf in new[] { "0000:00:02.1", "0000:00:02.2" })
        {
            _host.Core.Write(Path.Combine(_host.Core.Root.PciDevice(vf), "driver_override"), "vfio-pci");
            _host.Core.Write(_host.Core.Root.PciDriversProbe, vf);
        }
        Assert.True(_host.Configure(PruneAll));
        await _host.PassAsync();

        Assert.Equal(["0"], _host.Writer.Writes.Where(w => w.Path.EndsWith("/sriov_numvfs")).Select(w => w.Value));
        Assert.Empty(Directory.EnumerateFileSystemEntries(pf, "virtfn*"));
    }

    [Fact]
    public async Task An_undeclared_display_pf_whose_vfs_a_host_driver_took_is_in_use_and_kept_with_prune_all()
    {
        // Autoprobe on: the host's i915 takes the VFs, as it does when someone enables them by hand.
        _host.Core.Write(Path.Combine(_host.Core.Root.PciDevice(Gpu), "sriov_numvfs"), "2");
        Assert.True(_host.Configure(PruneAll));
        await _host.PassAsync();

        Assert.Empty(_host.Writer.Writes);
        var action = Assert.Single(_host.Reconciler.Current.FunctionPlan);
        Assert.Equal((FunctionActionKind.Blocked, BlockReason.InUse), (action.Kind, action.Blocked));
        Assert.Contains("bound to i915, a host driver", action.Reason);
    }
}
