using Gvtctl.Doctor;

namespace Gvtd.Tests.Gvtctl.Doctor;

public sealed class DoctorChecksTests
{
    private static readonly string[] SriovChecks = [DoctorChecks.SriovGpuId, DoctorChecks.SriovDriverId];

    private static void AssertFixes(IReadOnlyList<DoctorCheck> checks)
    {
        foreach (var c in checks)
        {
            if (c.Status == CheckStatus.Ok) Assert.True(c.Fix is null, $"{c.Id} is Ok but has a fix: {c.Fix}");
            else Assert.False(string.IsNullOrWhiteSpace(c.Fix), $"{c.Id} is {c.Status} without a fix");
            Assert.False(string.IsNullOrWhiteSpace(c.Detail), $"{c.Id} has no detail");
            Assert.False(string.IsNullOrWhiteSpace(c.Title), $"{c.Id} has no title");
        }
    }

    [Fact]
    public void A_ready_machine_passes_every_check()
    {
        using var host = DoctorHost.Ready();
        var checks = host.Run();

        Assert.Equal(DoctorChecks.Ids, checks.Select(c => c.Id));
        // Every check that applies to a GVT-g GPU; the SR-IOV ones step aside.
        Assert.All(checks.Where(c => !SriovChecks.Contains(c.Id)), c => Assert.True(c.Status == CheckStatus.Ok, $"{c.Id}: {c.Status} {c.Detail}"));
        Assert.All(checks.Where(c => SriovChecks.Contains(c.Id)), c => Assert.Equal(CheckStatus.Skipped, c.Status));
        AssertFixes(checks);
        Assert.Equal("0000:00:02.0 Intel 0x5912 (Kaby Lake).", host.Check(DoctorChecks.IntelGpuId).Detail);
        Assert.Contains("Kaby Lake", host.Check(DoctorChecks.GpuGenerationId).Detail);
        Assert.Contains("Linux 6.1.0-56-amd64", host.Check(DoctorChecks.KernelVersionId).Detail);
        var gvt = host.Check(DoctorChecks.EnableGvtId).Detail;
        Assert.Contains("enable_gvt=Y (live module parameter)", gvt);
        Assert.Contains("command line has i915.enable_gvt=1", gvt);
        var types = host.Check(DoctorChecks.MdevTypesId).Detail;
        Assert.Contains("i915-GVTg_V5_4 (4 available)", types);
        Assert.Contains("i915-GVTg_V5_8 (8 available)", types);
        Assert.Contains("12 IOMMU groups", host.Check(DoctorChecks.IommuId).Detail);
        Assert.Contains("QEMU 7.2.0", host.Check(DoctorChecks.QemuVersionId).Detail);
        Assert.Contains("converged", host.Check(DoctorChecks.GvtdId).Detail);
    }

    [Fact]
    public void Ids_are_distinct_kebab_case_and_in_the_documented_order()
    {
        Assert.Equal(
            ["kernel-version", "enable-gvt", "intel-gpu", "gpu-generation", "modules", "iommu", "mdev-types", "sriov-gpu", "sriov-driver", "qemu-version", "gvtd"],
            DoctorChecks.Ids);
        Assert.Equal(DoctorChecks.Ids.Count, DoctorChecks.Ids.Distinct().Count());
        Assert.All(DoctorChecks.Ids, id => Assert.Matches("^[a-z0-9]+(-[a-z0-9]+)*$", id));
    }

    [Fact]
    public void Without_enable_gvt_the_fix_names_the_kernel_parameter()
    {
        using var host = new DoctorHost()
            .Kernel("6.1.0-56-amd64")
            .Cmdline("BOOT_IMAGE=/boot/vmlinuz root=/dev/sda1 ro intel_iommu=on")
            .EnableGvtParam("N")
            .IntelGpu(0x5912)
            .Modules("kvmgt", "vfio", "vfio_iommu_type1", "mdev")
            .Iommu(groups: 3);
        var checks = host.Run();

        var gvt = host.Check(DoctorChecks.EnableGvtId);
        Assert.Equal(CheckStatus.Failed, gvt.Status);
        Assert.Contains("enable_gvt=N", gvt.Detail);
        Assert.Contains("no i915.enable_gvt", gvt.Detail);
        Assert.Contains("i915.enable_gvt=1", gvt.Fix);
        Assert.Contains("update-grub", gvt.Fix);

        var types = host.Check(DoctorChecks.MdevTypesId);
        Assert.Equal(CheckStatus.Failed, types.Status);
        Assert.Contains("missing", types.Detail);
        Assert.Contains("i915.enable_gvt=1", types.Fix);

        Assert.Equal(CheckStatus.Ok, host.Check(DoctorChecks.GpuGenerationId).Status);
        Assert.Equal(CheckStatus.Ok, host.Check(DoctorChecks.IommuId).Status);
        AssertFixes(checks);
    }

    [Fact]
    public void Enable_gvt_set_on_the_command_line_but_refused_by_i915_says_so()
    {
        using var host = DoctorHost.Ready().EnableGvtParam("N");
        var gvt = host.Check(DoctorChecks.EnableGvtId);
        Assert.Equal(CheckStatus.Failed, gvt.Status);
        Assert.Contains("i915 turned GVT-g off", gvt.Detail);
        Assert.Contains("dmesg", gvt.Fix);
    }

    [Fact]
    public void Enable_gvt_set_through_modprobe_d_counts_as_the_live_truth()
    {
        using var host = DoctorHost.Ready().Cmdline("root=/dev/sda1 ro intel_iommu=on");
        var gvt = host.Check(DoctorChecks.EnableGvtId);
        Assert.Equal(CheckStatus.Ok, gvt.Status);
        Assert.Contains("live module parameter", gvt.Detail);
        Assert.Contains("no i915.enable_gvt", gvt.Detail);
    }

    [Fact]
    public void Enable_gvt_only_on_the_command_line_with_i915_not_loaded_is_a_warning()
    {
        using var host = DoctorHost.Ready();
        Directory.Delete(host.Sys.Full("module/i915"), recursive: true);
        var gvt = host.Check(DoctorChecks.EnableGvtId);
        Assert.Equal(CheckStatus.Warning, gvt.Status);
        Assert.Contains("modprobe i915", gvt.Fix);
    }

    [Fact]
    public void The_last_enable_gvt_on_the_command_line_wins()
    {
        using var host = DoctorHost.Ready().Cmdline("i915.enable_gvt=1 ro i915.enable_gvt=0");
        Directory.Delete(host.Sys.Full("module/i915"), recursive: true);
        var gvt = host.Check(DoctorChecks.EnableGvtId);
        Assert.Equal(CheckStatus.Failed, gvt.Status);
        Assert.Contains("i915.enable_gvt=0", gvt.Detail);
    }

    [Fact]
    public void I915_without_the_enable_gvt_parameter_means_a_kernel_without_GVT()
    {
        using var host = DoctorHost.Ready();
        File.Delete(host.Sys.Full("module/i915/parameters/enable_gvt"));
        var gvt = host.Check(DoctorChecks.EnableGvtId);
        Assert.Equal(CheckStatus.Failed, gvt.Status);
        Assert.Contains("CONFIG_DRM_I915_GVT", gvt.Fix);
    }

    [Fact]
    public void Alder_Lake_is_unsupported_and_the_fix_points_to_SR_IOV()
    {
        using var host = new DoctorHost()
            .Kernel("6.8.0-45-generic")
            .Cmdline("ro quiet intel_iommu=on i915.enable_gvt=1")
            .EnableGvtParam("N")
            .IntelGpu(0x4680)
            .Modules("vfio", "vfio_iommu_type1", "mdev")
            .Iommu(groups: 20);
        var checks = host.Run();

        Assert.Equal("0000:00:02.0 Intel 0x4680 (Alder Lake).", host.Check(DoctorChecks.IntelGpuId).Detail);
        var generation = host.Check(DoctorChecks.GpuGenerationId);
        Assert.Equal(CheckStatus.Failed, generation.Status);
        Assert.Contains("Alder Lake", generation.Detail);
        Assert.Contains("SR-IOV", generation.Fix);
        Assert.Contains("/sys/bus/pci/devices/0000:00:02.0/sriov_numvfs", generation.Fix);
        var modules = host.Check(DoctorChecks.ModulesId);
        Assert.Equal(CheckStatus.Failed, modules.Status);
        Assert.Contains("sudo modprobe -a kvmgt", modules.Fix);
        AssertFixes(checks);
    }

    [Fact]
    public void Without_an_IOMMU_the_fix_is_intel_iommu_on()
    {
        using var host = DoctorHost.Ready();
        Directory.Delete(host.Sys.Full("class/iommu"), recursive: true);
        Directory.Delete(host.Sys.Full("kernel/iommu_groups"), recursive: true);
        var checks = host.Run();

        var iommu = host.Check(DoctorChecks.IommuId);
        Assert.Equal(CheckStatus.Failed, iommu.Status);
        Assert.Contains("intel_iommu=on", iommu.Fix);
        Assert.Contains("VT-d", iommu.Fix);
        Assert.All(checks.Where(c => c.Id != DoctorChecks.IommuId && !SriovChecks.Contains(c.Id)), c => Assert.Equal(CheckStatus.Ok, c.Status));
        AssertFixes(checks);
    }

    [Fact]
    public void IOMMU_groups_alone_are_enough()
    {
        using var host = DoctorHost.Ready();
        Directory.Delete(host.Sys.Full("class/iommu"), recursive: true);
        Assert.Equal(CheckStatus.Ok, host.Check(DoctorChecks.IommuId).Status);
    }

    [Theory]
    [InlineData("4.15.0-213-generic", CheckStatus.Failed)]
    [InlineData("4.16.0", CheckStatus.Ok)]
    [InlineData("5.4.0-150-generic", CheckStatus.Ok)]
    [InlineData("3.10.0-1160.el7.x86_64", CheckStatus.Failed)]
    [InlineData("not-a-version", CheckStatus.Warning)]
    public void Kernel_version_is_compared_with_4_16(string release, CheckStatus expected)
    {
        using var host = DoctorHost.Ready().Kernel(release);
        var kernel = host.Check(DoctorChecks.KernelVersionId);
        Assert.Equal(expected, kernel.Status);
        if (expected == CheckStatus.Failed) Assert.Contains("4.16", kernel.Fix);
    }

    [Fact]
    public void Built_in_modules_are_found_without_proc_modules()
    {
        using var host = DoctorHost.Ready();
        File.Delete(Path.Combine(host.Proc, "modules"));
        // Built in: vfio_iommu_type1 has parameters (so /sys/module has it); mdev only shows as its bus.
        Directory.Delete(host.Sys.Full("module/mdev"));
        Directory.Delete(host.Sys.Full("module/vfio"));
        host.Sys.Dir("class/misc/vfio");
        var modules = host.Check(DoctorChecks.ModulesId);
        Assert.Equal(CheckStatus.Ok, modules.Status);
        Assert.Contains("/proc/modules could not be read", modules.Detail);
    }

    [Fact]
    public void Modules_listed_only_in_proc_modules_count()
    {
        using var host = DoctorHost.Ready();
        Directory.Delete(host.Sys.Full("module/kvmgt"));
        Assert.Equal(CheckStatus.Ok, host.Check(DoctorChecks.ModulesId).Status);
    }

    [Fact]
    public void Missing_modules_are_named_in_the_modprobe_command()
    {
        using var host = DoctorHost.Ready().ProcModules("vfio", "vfio_iommu_type1");
        Directory.Delete(host.Sys.Full("module/kvmgt"));
        Directory.Delete(host.Sys.Full("module/mdev"));
        Directory.Delete(host.Sys.Full("bus/mdev"), recursive: true);
        Directory.Delete(host.Sys.Full("class/mdev_bus"), recursive: true);
        var modules = host.Check(DoctorChecks.ModulesId);
        Assert.Equal(CheckStatus.Failed, modules.Status);
        Assert.Contains("missing: kvmgt, mdev", modules.Detail);
        Assert.Contains("sudo modprobe -a kvmgt mdev", modules.Fix);
    }

    [Fact]
    public void Empty_mdev_supported_types_fails_and_points_to_kvmgt_when_GVT_is_on()
    {
        using var host = DoctorHost.Ready();
        Directory.Delete(host.Sys.Full(SysfsTreeGvtTypes), recursive: true);
        host.Sys.Dir(SysfsTreeGvtTypes);
        var types = host.Check(DoctorChecks.MdevTypesId);
        Assert.Equal(CheckStatus.Failed, types.Status);
        Assert.Contains("empty", types.Detail);
        Assert.Contains("modprobe kvmgt", types.Fix);
    }

    private const string SysfsTreeGvtTypes = Gvtd.Tests.Support.SysfsTree.GvtParentDir + "/mdev_supported_types";

    [Fact]
    public void No_Intel_GPU_fails_and_the_checks_that_need_one_are_skipped_with_a_pointer()
    {
        using var host = new DoctorHost()
            .Kernel("6.1.0")
            .Cmdline("i915.enable_gvt=1 intel_iommu=on")
            .PciDevice("0000:01:00.0", "0x10de", "0x030000", "0x2484") // an NVIDIA card
            .PciDevice("0000:00:1f.3", "0x8086", "0x040300", "0xa348") // Intel audio
            .Modules("kvmgt", "vfio", "vfio_iommu_type1", "mdev")
            .Iommu(groups: 2);
        var checks = host.Run();

        Assert.Equal(CheckStatus.Failed, host.Check(DoctorChecks.IntelGpuId).Status);
        Assert.Equal(CheckStatus.Skipped, host.Check(DoctorChecks.GpuGenerationId).Status);
        Assert.Equal(CheckStatus.Skipped, host.Check(DoctorChecks.MdevTypesId).Status);
        Assert.Contains("intel-gpu", host.Check(DoctorChecks.MdevTypesId).Fix);
        AssertFixes(checks);
    }

    [Fact]
    public void An_Intel_GPU_that_is_not_the_boot_display_is_still_found()
    {
        using var host = new DoctorHost()
            .PciDevice("0000:01:00.0", "0x10de", "0x030000", "0x2484")
            .IntelGpu(0x3e92, cls: "0x038000");
        var gpu = host.Check(DoctorChecks.IntelGpuId);
        Assert.Equal(CheckStatus.Ok, gpu.Status);
        Assert.Contains("0000:00:02.0 Intel 0x3e92 (Coffee Lake)", gpu.Detail);
        Assert.Contains("0x038000", gpu.Detail);
    }

    [Theory]
    [InlineData(0x5A84, "Apollo Lake", CheckStatus.Warning)]
    [InlineData(0x3185, "Gemini Lake", CheckStatus.Failed)]
    [InlineData(0x8A52, "Ice Lake", CheckStatus.Failed)]
    [InlineData(0x0412, "Haswell", CheckStatus.Failed)]
    [InlineData(0x1616, "Broadwell", CheckStatus.Ok)]
    [InlineData(0x9BC5, "Comet Lake", CheckStatus.Ok)]
    public void Generation_status_follows_the_table(int deviceId, string name, CheckStatus expected)
    {
        using var host = DoctorHost.Ready().IntelGpu(deviceId);
        var generation = host.Check(DoctorChecks.GpuGenerationId);
        Assert.Equal(expected, generation.Status);
        Assert.Contains(name, generation.Detail);
    }

    [Fact]
    public void An_unknown_device_id_is_a_warning_not_a_guess()
    {
        using var host = DoctorHost.Ready().IntelGpu(0x56A0); // Arc A770: discrete, not in the table
        var generation = host.Check(DoctorChecks.GpuGenerationId);
        Assert.Equal(CheckStatus.Warning, generation.Status);
        Assert.Contains("unknown device id", generation.Detail);
        Assert.Contains("lspci -nn -s 0000:00:02.0", generation.Fix);
        Assert.Contains("unknown generation", host.Check(DoctorChecks.IntelGpuId).Detail);
    }

    [Fact]
    public void QEMU_not_installed_is_skipped_not_failed()
    {
        using var host = DoctorHost.Ready();
        host.QemuOutput = null;
        var qemu = host.Check(DoctorChecks.QemuVersionId);
        Assert.Equal(CheckStatus.Skipped, qemu.Status);
        Assert.Contains("not installed", qemu.Detail);
    }

    [Theory]
    [InlineData("QEMU emulator version 2.11.1(Debian 1:2.11+dfsg-1ubuntu7.42)\n", CheckStatus.Failed)]
    [InlineData("QEMU emulator version 2.12.0\n", CheckStatus.Ok)]
    [InlineData("QEMU emulator version 10.1.0\n", CheckStatus.Ok)]
    [InlineData("segfault\n", CheckStatus.Warning)]
    [InlineData("", CheckStatus.Warning)]
    public void QEMU_version_is_compared_with_2_12(string output, CheckStatus expected)
    {
        using var host = DoctorHost.Ready();
        host.QemuOutput = output;
        var qemu = host.Check(DoctorChecks.QemuVersionId);
        Assert.Equal(expected, qemu.Status);
        if (expected == CheckStatus.Failed) Assert.Contains("2.12", qemu.Fix);
    }

    [Fact]
    public void A_throwing_version_seam_is_a_warning()
    {
        using var host = DoctorHost.Ready();
        var env = host.Env with { RunVersion = _ => throw new InvalidOperationException("boom") };
        var qemu = DoctorChecks.Run(env).Single(c => c.Id == DoctorChecks.QemuVersionId);
        Assert.Equal(CheckStatus.Warning, qemu.Status);
        Assert.Contains("boom", qemu.Detail);
    }

    [Fact]
    public void Without_a_daemon_seam_the_gvtd_check_is_skipped()
    {
        using var host = DoctorHost.Ready();
        host.Daemon = null;
        var gvtd = host.Check(DoctorChecks.GvtdId);
        Assert.Equal(CheckStatus.Skipped, gvtd.Status);
        Assert.Contains("systemctl status gvtd", gvtd.Fix);
    }

    [Fact]
    public void A_stopped_daemon_fails_with_the_systemctl_command()
    {
        using var host = DoctorHost.Ready();
        host.Daemon = () => new DaemonStatus(false, null, null);
        var gvtd = host.Check(DoctorChecks.GvtdId);
        Assert.Equal(CheckStatus.Failed, gvtd.Status);
        Assert.Contains("sudo systemctl enable --now gvtd", gvtd.Fix);
    }

    [Fact]
    public void A_refused_configuration_fails_and_quotes_the_error()
    {
        using var host = DoctorHost.Ready();
        host.Daemon = () => new DaemonStatus(true, "config-error", "vgpus.yaml:3: unknown key 'tpye'");
        var gvtd = host.Check(DoctorChecks.GvtdId);
        Assert.Equal(CheckStatus.Failed, gvtd.Status);
        Assert.Contains("unknown key 'tpye'", gvtd.Detail);
        Assert.Contains("/etc/gvtd/vgpus.yaml", gvtd.Fix);
        Assert.Contains("systemctl reload gvtd", gvtd.Fix);
    }

    [Fact]
    public void A_throwing_daemon_seam_is_a_warning()
    {
        using var host = DoctorHost.Ready();
        host.Daemon = () => throw new TimeoutException("no reply from org.gvtd");
        var gvtd = host.Check(DoctorChecks.GvtdId);
        Assert.Equal(CheckStatus.Warning, gvtd.Status);
        Assert.Contains("no reply", gvtd.Detail);
    }
}
