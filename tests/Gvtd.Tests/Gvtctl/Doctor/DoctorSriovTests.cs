using Gvtctl.Doctor;

namespace Gvtd.Tests.Gvtctl.Doctor;

/// <summary>The doctor on hosts whose GPU shares itself by SR-IOV (Gen12 and newer).</summary>
public sealed class DoctorSriovTests
{
    /// <summary>Tiger Lake 0x9a49 with SR-IOV, i915 from the SR-IOV build, VFIO loaded, an IOMMU.</summary>
    private static DoctorHost TigerLake(string driver = "i915") => new DoctorHost()
        .Kernel("6.8.0-45-generic")
        .Cmdline("ro quiet intel_iommu=on i915.enable_guc=3 i915.max_vfs=7")
        .IntelGpu(0x9a49)
        .Sriov(totalVfs: 7, driver)
        .Modules("vfio", "vfio_iommu_type1", "vfio_pci", driver)
        .Iommu(groups: 20);

    [Fact]
    public void A_ready_sriov_host_passes_and_the_gvtg_checks_step_aside()
    {
        using var host = TigerLake();
        host.Sys.File("module/i915/parameters/enable_guc", "3\n");
        host.Sys.File("module/i915/parameters/max_vfs", "7\n");
        var checks = host.Run();

        Assert.DoesNotContain(checks, c => c.Status is CheckStatus.Failed or CheckStatus.Warning);
        Assert.Equal(CheckStatus.Skipped, host.Check(DoctorChecks.EnableGvtId).Status);
        Assert.Equal(CheckStatus.Skipped, host.Check(DoctorChecks.MdevTypesId).Status);
        Assert.Contains("Tiger Lake", host.Check(DoctorChecks.GpuGenerationId).Detail);
        Assert.Equal("0000:00:02.0 offers 7 VFs (sriov_totalvfs); 0 enabled now.", host.Check(DoctorChecks.SriovGpuId).Detail);
        Assert.Equal("i915 with enable_guc=3 and max_vfs=7.", host.Check(DoctorChecks.SriovDriverId).Detail);
        Assert.Contains("vfio_pci", host.Check(DoctorChecks.ModulesId).Detail);
    }

    [Fact]
    public void Mainline_i915_is_told_to_use_the_sriov_build_or_xe()
    {
        using var host = TigerLake();
        host.Sys.File("module/i915/parameters/enable_guc", "-1\n");
        var check = host.Check(DoctorChecks.SriovDriverId);
        Assert.Equal(CheckStatus.Failed, check.Status);
        Assert.Contains("i915-sriov-dkms", check.Fix);
    }

    [Fact]
    public void The_sriov_build_without_its_parameters_is_told_which_ones()
    {
        using var host = TigerLake();
        host.Sys.File("module/i915/parameters/enable_guc", "0\n");
        host.Sys.File("module/i915/parameters/max_vfs", "0\n");
        var check = host.Check(DoctorChecks.SriovDriverId);
        Assert.Contains("enable_guc=0 max_vfs=0", check.Detail);
        Assert.Contains("i915.enable_guc=3 i915.max_vfs=7", check.Fix);
    }

    [Fact]
    public void Xe_with_max_vfs_zero_and_a_missing_vfio_pci_are_failed_with_their_fixes()
    {
        using var host = TigerLake("xe");
        host.Sys.File("module/xe/parameters/max_vfs", "0\n");
        System.IO.Directory.Delete(host.Sys.Full("module/vfio_pci"));
        host.ProcModules("vfio", "vfio_iommu_type1", "xe");

        Assert.Contains("xe.max_vfs=7", host.Check(DoctorChecks.SriovDriverId).Fix);
        var modules = host.Check(DoctorChecks.ModulesId);
        Assert.Equal(CheckStatus.Failed, modules.Status);
        Assert.Contains("sudo modprobe -a vfio_pci", modules.Fix);
    }

    [Fact]
    public void A_gvtg_host_skips_the_sriov_checks()
    {
        using var host = DoctorHost.Ready();
        Assert.Equal(CheckStatus.Skipped, host.Check(DoctorChecks.SriovGpuId).Status);
        Assert.Equal(CheckStatus.Skipped, host.Check(DoctorChecks.SriovDriverId).Status);
    }
}
