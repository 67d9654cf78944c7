using Gvtctl.Doctor;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Gvtctl.Doctor;

/// <summary>Whatever sysfs and /proc hold, or lack, the doctor answers with checks and never throws.</summary>
public sealed class DoctorOddFilesTests
{
    private static IReadOnlyList<DoctorCheck> RunWithoutThrowing(DoctorEnvironment env)
    {
        var checks = DoctorChecks.Run(env);
        Assert.Equal(DoctorChecks.Ids, checks.Select(c => c.Id));
        foreach (var c in checks)
            Assert.True(c.Status == CheckStatus.Ok ? c.Fix is null : !string.IsNullOrWhiteSpace(c.Fix), $"{c.Id}: {c.Status} fix={c.Fix}");
        return checks;
    }

    [Fact]
    public void Roots_that_do_not_exist_give_findings()
    {
        using var temp = new TempDir();
        var checks = RunWithoutThrowing(new DoctorEnvironment(Gvtd.Contract.HostRoots.Default with { Sys = temp.Combine("no-sys"), Proc = temp.Combine("no-proc") }, _ => null));
        Assert.Equal(CheckStatus.Warning, checks.Single(c => c.Id == DoctorChecks.KernelVersionId).Status);
        Assert.Equal(CheckStatus.Failed, checks.Single(c => c.Id == DoctorChecks.IntelGpuId).Status);
        Assert.Equal(CheckStatus.Failed, checks.Single(c => c.Id == DoctorChecks.ModulesId).Status);
        Assert.Equal(CheckStatus.Failed, checks.Single(c => c.Id == DoctorChecks.IommuId).Status);
        Assert.Equal(CheckStatus.Skipped, checks.Single(c => c.Id == DoctorChecks.QemuVersionId).Status);
    }

    [Fact]
    public void Garbage_in_class_vendor_and_device_never_throws()
    {
        using var host = DoctorHost.Ready()
            .PciDevice("0000:00:14.0", "\0\0\0garbage", "0x0c0330", "0xa36d")
            .PciDevice("0000:00:16.0", "0x8086", "not hex at all", "0xa360")
            .PciDevice("0000:00:17.0", "0x8086", "0x03", "0x1234")
            .PciDevice("0000:00:18.0", "", "", "");
        host.Sys.File($"devices/pci0000:00/{DoctorHost.Gpu}/device", "0xZZZZ\n");
        var checks = RunWithoutThrowing(host.Env);

        Assert.Equal(CheckStatus.Ok, checks.Single(c => c.Id == DoctorChecks.IntelGpuId).Status);
        var generation = checks.Single(c => c.Id == DoctorChecks.GpuGenerationId);
        Assert.Equal(CheckStatus.Warning, generation.Status);
        Assert.Contains("0xZZZZ", generation.Detail);
    }

    [Fact]
    public void Directories_where_files_belong_and_dangling_links_never_throw()
    {
        using var host = DoctorHost.Ready();
        // A directory in place of each file the doctor reads.
        File.Delete(Path.Combine(host.Proc, "sys/kernel/osrelease"));
        Directory.CreateDirectory(Path.Combine(host.Proc, "sys/kernel/osrelease"));
        File.Delete(Path.Combine(host.Proc, "cmdline"));
        Directory.CreateDirectory(Path.Combine(host.Proc, "cmdline"));
        File.Delete(Path.Combine(host.Proc, "modules"));
        Directory.CreateDirectory(Path.Combine(host.Proc, "modules"));
        File.Delete(host.Sys.Full("module/i915/parameters/enable_gvt"));
        host.Sys.Dir("module/i915/parameters/enable_gvt");
        // A PCI link to nowhere, and a plain file among the devices.
        host.Sys.Link("bus/pci/devices/0000:00:1f.0", "../../../devices/pci0000:00/0000:00:1f.0");
        host.Sys.File("bus/pci/devices/README", "not a device\n");
        // A type directory with nothing in it.
        host.Sys.Dir(SysfsTree.GvtParentDir + "/mdev_supported_types/i915-GVTg_V9_9");

        var checks = RunWithoutThrowing(host.Env);
        Assert.Equal(CheckStatus.Warning, checks.Single(c => c.Id == DoctorChecks.KernelVersionId).Status);
        Assert.Equal(CheckStatus.Ok, checks.Single(c => c.Id == DoctorChecks.IntelGpuId).Status);
        Assert.Contains("i915-GVTg_V9_9", checks.Single(c => c.Id == DoctorChecks.MdevTypesId).Detail);
    }

    [Fact]
    public void Unreadable_files_never_throw_for_an_unprivileged_user()
    {
        if (OperatingSystem.IsWindows()) return; // sysfs and /proc are Linux things; the project builds only there
        // Root reads any file whatever its mode, so the doctor runs as nobody, where the locks hold.
        using var host = DoctorHost.Ready();
        var locked = new[]
        {
            Path.Combine(host.Proc, "sys/kernel/osrelease"),
            Path.Combine(host.Proc, "cmdline"),
            host.Sys.Full($"devices/pci0000:00/{DoctorHost.Gpu}/class"),
        };
        foreach (var f in locked) File.SetUnixFileMode(f, UnixFileMode.None);
        Directory.CreateDirectory(host.Sys.Full("kernel/iommu_groups/locked"));
        File.SetUnixFileMode(host.Sys.Full("kernel/iommu_groups"), UnixFileMode.UserWrite);
        var cat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", "cat", locked[0]]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        cat.WaitForExit();
        Assert.True(cat.ExitCode != 0, "the lock does not hold for nobody, so this test would prove nothing");

        var doctor = GvtctlRun.Run(null, ["doctor", "--sysfs-root", host.Sys.Root, "--proc-root", host.Proc], asNobody: true);

        Assert.DoesNotContain("Unhandled exception", doctor.Stderr);
        Assert.DoesNotContain("   at ", doctor.Stderr + doctor.Stdout);
        Assert.InRange(doctor.ExitCode, 0, 1);
        Assert.Contains("kernel", doctor.Stdout, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Binary_junk_in_proc_files_never_throws()
    {
        using var host = DoctorHost.Ready();
        File.WriteAllBytes(Path.Combine(host.Proc, "sys/kernel/osrelease"), [0xff, 0xfe, 0x00, 0x41]);
        File.WriteAllBytes(Path.Combine(host.Proc, "cmdline"), [0x00, 0x00, 0xc3]);
        File.WriteAllBytes(Path.Combine(host.Proc, "modules"), [0x0a, 0x0a, 0x20, 0x20]);
        var checks = RunWithoutThrowing(host.Env);
        Assert.Equal(CheckStatus.Warning, checks.Single(c => c.Id == DoctorChecks.KernelVersionId).Status);
    }

    [Fact]
    public void Cmdline_with_nul_separators_is_read_as_words()
    {
        using var host = DoctorHost.Ready();
        Directory.Delete(host.Sys.Full("module/i915"), recursive: true);
        File.WriteAllText(Path.Combine(host.Proc, "cmdline"), "ro\0i915.enable_gvt=1\0");
        var gvt = RunWithoutThrowing(host.Env).Single(c => c.Id == DoctorChecks.EnableGvtId);
        Assert.Contains("i915.enable_gvt=1", gvt.Detail);
    }
}
