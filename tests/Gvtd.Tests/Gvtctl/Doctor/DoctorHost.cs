using Gvtctl.Doctor;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Gvtctl.Doctor;

/// <summary>
/// A fake machine for the doctor: a sysfs tree (through <see cref="SysfsTree"/>, so the GPU and its
/// GVT-g types are laid out as gvtd's own tests lay them out), a /proc, and answers for the seams.
/// PCI devices sit under devices/pci0000:00 with bus/pci/devices links to them, as in real sysfs.
/// </summary>
internal sealed class DoctorHost : IDisposable
{
    public const string Gpu = SysfsTree.GvtPci;
    public const string QemuDebian = "QEMU emulator version 7.2.0 (Debian 1:7.2+dfsg-7+deb12u3)\nCopyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n";

    private readonly TempDir _temp = new();

    public DoctorHost()
    {
        Sys = new SysfsTree(_temp.Combine("sys"), _temp.Combine("proc"));
    }

    public SysfsTree Sys { get; }
    public string Proc => Sys.ProcRoot;
    public string? QemuOutput { get; set; } = QemuDebian;
    public Func<DaemonStatus>? Daemon { get; set; } = () => new DaemonStatus(true, "converged", null);

    /// <summary>Kaby Lake 0x5912 at 0000:00:02.0 with GVT-g on, modules loaded, IOMMU groups, i915 types, Linux 6.1.</summary>
    public static DoctorHost Ready() => new DoctorHost()
        .Kernel("6.1.0-56-amd64")
        .Cmdline("BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=1234 ro quiet intel_iommu=on i915.enable_gvt=1")
        .EnableGvtParam("Y")
        .IntelGpu(0x5912)
        .GvtTypes()
        .Modules("kvmgt", "vfio", "vfio_iommu_type1", "mdev", "i915")
        .Iommu(groups: 12);

    public DoctorHost Kernel(string release) { Write("proc", "sys/kernel/osrelease", release + "\n"); return this; }

    /// <summary>/proc/cmdline as the kernel shows it: one line ending in a newline.</summary>
    public DoctorHost Cmdline(string line) { Write("proc", "cmdline", line + "\n"); return this; }

    public DoctorHost EnableGvtParam(string value) { Sys.File("module/i915/parameters/enable_gvt", value + "\n"); return this; }

    public DoctorHost PciDevice(string address, string vendor, string cls, string device)
    {
        var dir = $"devices/pci0000:00/{address}";
        Sys.File(dir + "/vendor", vendor + "\n");
        Sys.File(dir + "/class", cls + "\n");
        Sys.File(dir + "/device", device + "\n");
        if (!System.IO.File.Exists(Sys.Full($"bus/pci/devices/{address}")) && !Directory.Exists(Sys.Full($"bus/pci/devices/{address}")))
            Sys.Link($"bus/pci/devices/{address}", $"../../../devices/pci0000:00/{address}");
        return this;
    }

    public DoctorHost IntelGpu(int deviceId, string cls = "0x030000") =>
        PciDevice(Gpu, "0x8086", cls, $"0x{deviceId:x4}");

    /// <summary>The GPU's SR-IOV capability as the PCI core shows it, and its driver bound.</summary>
    public DoctorHost Sriov(int totalVfs, string driver)
    {
        var dir = $"devices/pci0000:00/{Gpu}";
        Sys.File(dir + "/sriov_totalvfs", $"{totalVfs}\n");
        Sys.File(dir + "/sriov_numvfs", "0\n");
        Sys.Dir($"bus/pci/drivers/{driver}");
        Sys.Link(dir + "/driver", $"../../../bus/pci/drivers/{driver}");
        return this;
    }

    /// <summary>The four i915 GVT-g types under the GPU, through gvtd's own fixture.</summary>
    public DoctorHost GvtTypes() { Sys.WithGvtParent(); return this; }

    /// <summary>Loaded modules: /sys/module/NAME and a /proc/modules line each.</summary>
    public DoctorHost Modules(params string[] names)
    {
        foreach (var name in names) Sys.Dir($"module/{name}");
        ProcModules(names);
        return this;
    }

    public DoctorHost ProcModules(params string[] names)
    {
        Write("proc", "modules", string.Concat(names.Select(n => $"{n} 16384 0 - Live 0x0000000000000000\n")));
        return this;
    }

    public DoctorHost Iommu(int groups)
    {
        Sys.Dir("class/iommu/dmar0");
        for (var g = 0; g < groups; g++) Sys.Dir($"kernel/iommu_groups/{g}/devices");
        return this;
    }

    public void Write(string root, string relative, string text) => _temp.Write(Path.Combine(root, relative), text);

    public DoctorEnvironment Env => new(Gvtd.Contract.HostRoots.Default with { Sys = Sys.Root, Proc = Proc }, program => program == "qemu-system-x86_64" ? QemuOutput : null, Daemon);

    public IReadOnlyList<DoctorCheck> Run() => DoctorChecks.Run(Env);

    public DoctorCheck Check(string id) => Run().Single(c => c.Id == id);

    public void Dispose() => _temp.Dispose();
}
