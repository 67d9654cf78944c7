using System.Globalization;
using System.Text.RegularExpressions;

namespace Gvtctl.Doctor;

/// <summary>
/// The checks of `gvtctl doctor`, in the order a person fixes them. Each check's Id is part of the
/// JSON contract and never changes:
/// <list type="table">
/// <item><term>kernel-version</term><description>Linux 4.16 or newer, from &lt;proc&gt;/sys/kernel/osrelease.</description></item>
/// <item><term>enable-gvt</term><description>i915.enable_gvt: the live module parameter &lt;sys&gt;/module/i915/parameters/enable_gvt, else &lt;proc&gt;/cmdline.</description></item>
/// <item><term>intel-gpu</term><description>An Intel display controller (vendor 0x8086, class 0x03xxxx, VGA 0x0300xx preferred) in &lt;sys&gt;/bus/pci/devices/*.</description></item>
/// <item><term>gpu-generation</term><description>That GPU's generation supports GVT-g (Broadwell to Comet Lake), from its device ID.</description></item>
/// <item><term>modules</term><description>kvmgt, vfio, vfio_iommu_type1, mdev: &lt;sys&gt;/module/NAME, &lt;proc&gt;/modules, or the bus/class they create.</description></item>
/// <item><term>iommu</term><description>An IOMMU is on: &lt;sys&gt;/class/iommu/* or &lt;sys&gt;/kernel/iommu_groups/*.</description></item>
/// <item><term>mdev-types</term><description>&lt;sys&gt;/bus/pci/devices/ADDR/mdev_supported_types lists vGPU types.</description></item>
/// <item><term>sriov-gpu</term><description>The Intel GPU offers SR-IOV VFs: &lt;sys&gt;/bus/pci/devices/ADDR/sriov_totalvfs (Skipped for a GVT-g GPU).</description></item>
/// <item><term>sriov-driver</term><description>The GPU's driver can make VFs: i915 with enable_guc=3 and max_vfs, or xe with max_vfs, from &lt;sys&gt;/module/DRIVER/parameters (Skipped for a GVT-g GPU).</description></item>
/// <item><term>qemu-version</term><description>qemu-system-x86_64 --version is 2.12 or newer (Skipped when QEMU is not installed).</description></item>
/// <item><term>gvtd</term><description>gvtd runs and accepted its configuration (Skipped when the daemon cannot be asked).</description></item>
/// </list>
/// A GPU that has SR-IOV (sriov_totalvfs) is checked for SR-IOV: the GVT-g-only checks are then
/// Skipped and the modules are vfio, vfio_iommu_type1 and vfio_pci; any other GPU is checked for GVT-g.
/// Every check that is not Ok has a Fix, Skipped ones included (what to do to decide it); Ok ones have none.
/// Checks read only; none needs root, none prints, none throws: what cannot be read is reported.
/// </summary>
public static class DoctorChecks
{
    public const string KernelVersionId = "kernel-version";
    public const string EnableGvtId = "enable-gvt";
    public const string IntelGpuId = "intel-gpu";
    public const string GpuGenerationId = "gpu-generation";
    public const string ModulesId = "modules";
    public const string IommuId = "iommu";
    public const string MdevTypesId = "mdev-types";
    public const string SriovGpuId = "sriov-gpu";
    public const string SriovDriverId = "sriov-driver";
    public const string QemuVersionId = "qemu-version";
    public const string GvtdId = "gvtd";

    /// <summary>Every id, in the order <see cref="Run"/> returns them.</summary>
    public static readonly IReadOnlyList<string> Ids =
        [KernelVersionId, EnableGvtId, IntelGpuId, GpuGenerationId, ModulesId, IommuId, MdevTypesId, SriovGpuId, SriovDriverId, QemuVersionId, GvtdId];

    /// <summary>
    /// The modules GVT-g needs. In 6.x kernels vfio_mdev is part of mdev, so it is not asked for; older
    /// kernels also need vfio_mdev, which this list does not check.
    /// </summary>
    public static readonly IReadOnlyList<string> RequiredModules = ["kvmgt", "vfio", "vfio_iommu_type1", "mdev"];

    /// <summary>What SR-IOV VFs need instead: VFIO and its PCI driver, which gvtd binds each VF to.</summary>
    public static readonly IReadOnlyList<string> SriovModules = ["vfio", "vfio_iommu_type1", "vfio_pci"];

    private const string IntelVendor = "0x8086";
    private const string Grub = "in GRUB_CMDLINE_LINUX of /etc/default/grub, run sudo update-grub and reboot";

    public static IReadOnlyList<DoctorCheck> Run(DoctorEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        var gpu = Guard<PciGpu>(IntelGpuId, "Intel GPU", () => FindIntelGpu(env), out var gpuFailure);
        var gvt = Guard<GvtSetting>(EnableGvtId, "GVT-g enabled in i915", () => ReadEnableGvt(env), out var gvtFailure);
        var sriov = gpu is not null && SafeExists(Path.Combine(env.SysfsRoot, "bus", "pci", "devices", gpu.Address, "sriov_totalvfs"));
        const string viaSriov = "This GPU shares itself by SR-IOV, not GVT-g.", seeSriov = "Nothing to do for GVT-g; see the sriov-gpu and sriov-driver checks.";
        const string gvtGpu = "This GPU shares itself by GVT-g, not SR-IOV.", seeGvt = "Nothing to do for SR-IOV; see the GVT-g checks.";
        return
        [
            Safe(KernelVersionId, "Linux 4.16 or newer", () => KernelVersion(env)),
            sriov ? Skipped(EnableGvtId, "GVT-g enabled in i915", viaSriov, seeSriov)
                : gvtFailure ?? Safe(EnableGvtId, "GVT-g enabled in i915", () => EnableGvt(gvt!)),
            gpuFailure ?? Safe(IntelGpuId, "Intel GPU", () => IntelGpu(gpu)),
            gpuFailure is not null ? Skipped(GpuGenerationId, "GPU generation supports GVT-g", "No GPU to look at.", SeeIntelGpu)
                : sriov ? Skipped(GpuGenerationId, "GPU generation supports GVT-g", $"{Describe(gpu!)}: {viaSriov}", seeSriov)
                : Safe(GpuGenerationId, "GPU generation supports GVT-g", () => Generation(gpu)),
            Safe(ModulesId, "Kernel modules loaded", () => Modules(env, sriov ? SriovModules : RequiredModules)),
            Safe(IommuId, "IOMMU enabled", () => Iommu(env)),
            gpuFailure is not null ? Skipped(MdevTypesId, "vGPU types offered", "No GPU to look at.", SeeIntelGpu)
                : sriov ? Skipped(MdevTypesId, "vGPU types offered", viaSriov, seeSriov)
                : Safe(MdevTypesId, "vGPU types offered", () => MdevTypes(env, gpu, gvt)),
            !sriov ? Skipped(SriovGpuId, "GPU offers SR-IOV VFs", gpu is null ? "No GPU to look at." : gvtGpu, gpu is null ? SeeIntelGpu : seeGvt)
                : Safe(SriovGpuId, "GPU offers SR-IOV VFs", () => SriovGpu(env, gpu!)),
            !sriov ? Skipped(SriovDriverId, "GPU driver can make VFs", gpu is null ? "No GPU to look at." : gvtGpu, gpu is null ? SeeIntelGpu : seeGvt)
                : Safe(SriovDriverId, "GPU driver can make VFs", () => SriovDriver(env, gpu!)),
            Safe(QemuVersionId, "QEMU 2.12 or newer", () => Qemu(env)),
            Safe(GvtdId, "gvtd running with a valid configuration", () => Gvtd(env)),
        ];
    }

    // ---- kernel-version ----

    private static DoctorCheck KernelVersion(DoctorEnvironment env)
    {
        const string id = KernelVersionId, title = "Linux 4.16 or newer";
        var release = ReadLine(Path.Combine(env.ProcRoot, "sys", "kernel", "osrelease"));
        if (release is null)
            return new(id, title, CheckStatus.Warning, "Could not read /proc/sys/kernel/osrelease.",
                "Check that /proc is mounted and run `uname -r`: GVT-g needs Linux 4.16 or newer.");
        var m = Regex.Match(release, @"^(\d+)\.(\d+)");
        if (!m.Success || !TryInt(m.Groups[1].Value, out var major) || !TryInt(m.Groups[2].Value, out var minor))
            return new(id, title, CheckStatus.Warning, $"Kernel release '{release}' is not in MAJOR.MINOR form.",
                "Run `uname -r` and make sure it is Linux 4.16 or newer.");
        if ((major, minor).CompareTo((4, 16)) < 0)
            return new(id, title, CheckStatus.Failed, $"Linux {release}: older than 4.16.",
                "Install and boot a Linux 4.16 or newer kernel from your distribution.");
        return new(id, title, CheckStatus.Ok, $"Linux {release}.");
    }

    // ---- enable-gvt ----

    private sealed record GvtSetting(string? Live, bool I915Loaded, string? CmdlineValue, bool CmdlineRead)
    {
        public bool LiveOn => Live is not null && IsTrue(Live);
        public bool CmdlineOn => CmdlineValue is not null && IsTrue(CmdlineValue);
    }

    private static GvtSetting ReadEnableGvt(DoctorEnvironment env)
    {
        var module = Path.Combine(env.SysfsRoot, "module", "i915");
        var live = ReadLine(Path.Combine(module, "parameters", "enable_gvt"));
        var cmdline = ReadLine(Path.Combine(env.ProcRoot, "cmdline"));
        string? value = null;
        if (cmdline is not null)
            foreach (var word in cmdline.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries))
                if (word.StartsWith("i915.enable_gvt=", StringComparison.Ordinal))
                    value = word["i915.enable_gvt=".Length..]; // the last one wins, as in the kernel
        return new(live, SafeDirExists(module), value, cmdline is not null);
    }

    /// <summary>How the kernel parses a bool parameter (kstrtobool): 1/y/Y/on/true.</summary>
    private static bool IsTrue(string value) =>
        value.Length > 0 && (value[0] is '1' or 'y' or 'Y' || value.Equals("on", StringComparison.OrdinalIgnoreCase)
                             || value.Equals("true", StringComparison.OrdinalIgnoreCase));

    private static DoctorCheck EnableGvt(GvtSetting s)
    {
        const string id = EnableGvtId, title = "GVT-g enabled in i915";
        const string fix = "Add i915.enable_gvt=1 to the kernel command line (" + Grub + ").";
        var cmdline = !s.CmdlineRead ? "/proc/cmdline could not be read"
            : s.CmdlineValue is null ? "the kernel command line has no i915.enable_gvt"
            : $"the kernel command line has i915.enable_gvt={s.CmdlineValue}";
        if (s.Live is not null)
        {
            if (s.LiveOn)
                return new(id, title, CheckStatus.Ok, $"i915 runs with enable_gvt={s.Live} (live module parameter); {cmdline}.");
            if (s.CmdlineOn)
                return new(id, title, CheckStatus.Failed,
                    $"i915 runs with enable_gvt={s.Live} although {cmdline}: i915 turned GVT-g off (unsupported GPU, or GVT-g failed to start; see `sudo dmesg | grep -i gvt`).",
                    "Read `sudo dmesg | grep -i gvt` for why i915 refused GVT-g; see the gpu-generation check.");
            return new(id, title, CheckStatus.Failed, $"i915 runs with enable_gvt={s.Live} (live module parameter); {cmdline}.", fix);
        }
        if (s.I915Loaded)
            return new(id, title, CheckStatus.Failed,
                $"i915 is loaded but has no enable_gvt parameter: this kernel was built without CONFIG_DRM_I915_GVT; {cmdline}.",
                "Boot a kernel built with CONFIG_DRM_I915_GVT and CONFIG_DRM_I915_GVT_KVMGT (most distribution kernels are).");
        if (s.CmdlineOn)
            return new(id, title, CheckStatus.Warning, $"i915 is not loaded, so its live setting is unknown; {cmdline}.",
                "Load i915 with `sudo modprobe i915` and run the doctor again.");
        return new(id, title, CheckStatus.Failed, $"i915 is not loaded; {cmdline}.", fix);
    }

    // ---- intel-gpu and gpu-generation ----

    private sealed record PciGpu(string Address, string DeviceText, int? DeviceId, string Class, IReadOnlyList<string> Others)
    {
        public GpuGeneration? Generation => DeviceId is int d ? IntelGpuGenerations.Lookup(d) : null;
    }

    /// <summary>
    /// The Intel display controller to use: VGA-class (0x0300xx) first, then any display class
    /// (0x03xxxx: an integrated GPU that is not the boot display shows 0x038000), lowest address first.
    /// Null when there is none; the others found are kept for the detail.
    /// </summary>
    private static PciGpu? FindIntelGpu(DoctorEnvironment env)
    {
        var devices = Path.Combine(env.SysfsRoot, "bus", "pci", "devices");
        var found = new List<(string Address, string Class, string Device)>();
        foreach (var dir in SafeEntries(devices))
        {
            var vendor = ReadLine(Path.Combine(dir, "vendor"));
            var cls = ReadLine(Path.Combine(dir, "class"));
            if (vendor is null || cls is null) continue;
            if (!vendor.Equals(IntelVendor, StringComparison.OrdinalIgnoreCase)) continue;
            if (!cls.StartsWith("0x03", StringComparison.OrdinalIgnoreCase) || cls.Length != 8) continue;
            found.Add((Path.GetFileName(dir), cls.ToLowerInvariant(), ReadLine(Path.Combine(dir, "device")) ?? "?"));
        }
        if (found.Count == 0) return null;
        var ordered = found
            .OrderBy(f => f.Class.StartsWith("0x0300", StringComparison.Ordinal) ? 0 : 1)
            .ThenBy(f => f.Address, StringComparer.Ordinal)
            .ToList();
        var pick = ordered[0];
        return new(pick.Address, pick.Device, ParseHexId(pick.Device), pick.Class,
            ordered.Skip(1).Select(o => o.Address).ToList());
    }

    private static int? ParseHexId(string text)
    {
        var t = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        return t.Length is > 0 and <= 4 && int.TryParse(t, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var id)
            ? id : null;
    }

    private static string Describe(PciGpu gpu)
    {
        var id = gpu.DeviceId is int d ? $"0x{d:x4}" : $"'{gpu.DeviceText}'";
        var name = gpu.Generation?.Name ?? "unknown generation";
        return $"{gpu.Address} Intel {id} ({name})";
    }

    private static DoctorCheck IntelGpu(PciGpu? gpu)
    {
        const string id = IntelGpuId, title = "Intel GPU";
        if (gpu is null)
            return new(id, title, CheckStatus.Failed,
                "No Intel display controller (vendor 0x8086, class 0x03xxxx) under /sys/bus/pci/devices.",
                "Run `lspci -nn | grep -i vga`: GVT-g needs an Intel integrated GPU that is enabled in the firmware setup.");
        var detail = Describe(gpu) + (gpu.Class.StartsWith("0x0300", StringComparison.Ordinal) ? "" : $", class {gpu.Class} (not the boot display)");
        if (gpu.Others.Count > 0) detail += $"; also Intel display controllers at {string.Join(", ", gpu.Others)}";
        return new(id, title, CheckStatus.Ok, detail + ".");
    }

    private static DoctorCheck Generation(PciGpu? gpu)
    {
        const string id = GpuGenerationId, title = "GPU generation supports GVT-g";
        if (gpu is null) return Skipped(id, title, "No Intel GPU found, so no generation to check.", SeeIntelGpu);
        var what = Describe(gpu);
        if (gpu.DeviceId is null)
            return new(id, title, CheckStatus.Warning, $"{gpu.Address}: the device ID '{gpu.DeviceText}' could not be read as a PCI ID.",
                $"Run `lspci -nn -s {gpu.Address}` and check that the GPU is Broadwell to Comet Lake.");
        var generation = gpu.Generation;
        if (generation is null)
            return new(id, title, CheckStatus.Warning,
                $"{what}: unknown device id, not in the doctor's table (GVT-g covers Broadwell to Comet Lake).",
                $"Look the GPU up with `lspci -nn -s {gpu.Address}`: GVT-g works on Broadwell to Comet Lake; newer Intel GPUs need SR-IOV instead.");
        return generation.Support switch
        {
            GvtSupport.Supported => new(id, title, CheckStatus.Ok, $"{what}: GVT-g supports {generation.Name}."),
            GvtSupport.Unofficial => new(id, title, CheckStatus.Warning,
                $"{what}: i915 accepts GVT-g on {generation.Name}, a Gen9 LP (Atom-class) part on which GVT-g is little tested.",
                "Try it but expect problems; for dependable vGPUs use a Core-class Broadwell to Comet Lake GPU."),
            GvtSupport.TooOld => new(id, title, CheckStatus.Failed,
                $"{what}: {generation.Name} is older than Broadwell, which GVT-g needs.",
                "GVT-g needs a Broadwell to Comet Lake GPU; this one can only be passed through whole to one VM with vfio-pci (GVT-d)."),
            GvtSupport.NoMediation => new(id, title, CheckStatus.Failed,
                $"{what}: GVT-g does not support {generation.Name}, and it has no graphics SR-IOV either.",
                "This GPU can only be passed through whole to one VM with vfio-pci (GVT-d); GVT-g needs Broadwell to Comet Lake."),
            _ => new(id, title, CheckStatus.Failed,
                $"{what}: GVT-g ends at Comet Lake; {generation.Name} is shared through SR-IOV instead.",
                $"Use SR-IOV instead of GVT-g: with an SR-IOV capable i915 or xe driver, boot with i915.enable_guc=3 i915.max_vfs=7 and run `echo 2 | sudo tee /sys/bus/pci/devices/{gpu.Address}/sriov_numvfs`."),
        };
    }

    // ---- modules ----

    private static DoctorCheck Modules(DoctorEnvironment env, IReadOnlyList<string> required)
    {
        const string id = ModulesId, title = "Kernel modules loaded";
        var procModules = ReadAll(Path.Combine(env.ProcRoot, "modules"));
        var listed = new HashSet<string>(StringComparer.Ordinal);
        if (procModules is not null)
            foreach (var line in procModules.Split('\n'))
            {
                var name = line.Split(' ', 2)[0].Trim();
                if (name.Length > 0) listed.Add(name);
            }
        var present = new List<string>();
        var missing = new List<string>();
        foreach (var module in required)
            (IsLoaded(env, module, listed) ? present : missing).Add(module);
        var found = present.Count > 0 ? $"loaded: {string.Join(", ", present)}" : "none of them loaded";
        if (procModules is null) found += " (/proc/modules could not be read)";
        if (missing.Count == 0)
            return new(id, title, CheckStatus.Ok, found + ".");
        return new(id, title, CheckStatus.Failed, $"{found}; missing: {string.Join(", ", missing)}.",
            $"Run `sudo modprobe -a {string.Join(" ", missing)}` and list them in /etc/modules-load.d/gvtd.conf to load them at boot.");
    }

    /// <summary>
    /// A module is there when sysfs has /sys/module/NAME (loadable modules, and built-ins with parameters),
    /// /proc/modules lists it, or, for built-ins without parameters, the thing it registers exists:
    /// mdev's bus (/sys/bus/mdev or /sys/class/mdev_bus) or vfio's container device (/sys/class/misc/vfio).
    /// </summary>
    private static bool IsLoaded(DoctorEnvironment env, string module, HashSet<string> listed)
    {
        if (listed.Contains(module) || SafeDirExists(Path.Combine(env.SysfsRoot, "module", module))) return true;
        return module switch
        {
            "mdev" => SafeDirExists(Path.Combine(env.SysfsRoot, "bus", "mdev")) || SafeDirExists(Path.Combine(env.SysfsRoot, "class", "mdev_bus")),
            "vfio" => SafeExists(Path.Combine(env.SysfsRoot, "class", "misc", "vfio")),
            "vfio_pci" => SafeDirExists(Path.Combine(env.SysfsRoot, "bus", "pci", "drivers", "vfio-pci")),
            _ => false,
        };
    }

    // ---- iommu ----

    private static DoctorCheck Iommu(DoctorEnvironment env)
    {
        const string id = IommuId, title = "IOMMU enabled";
        var units = SafeEntries(Path.Combine(env.SysfsRoot, "class", "iommu")).Select(Path.GetFileName).ToList();
        var groups = SafeEntries(Path.Combine(env.SysfsRoot, "kernel", "iommu_groups")).Count;
        if (units.Count > 0 || groups > 0)
        {
            var parts = new List<string>();
            if (units.Count > 0) parts.Add($"IOMMU units: {string.Join(", ", units)}");
            parts.Add($"{groups} IOMMU group{(groups == 1 ? "" : "s")}");
            return new(id, title, CheckStatus.Ok, string.Join("; ", parts) + ".");
        }
        return new(id, title, CheckStatus.Failed,
            "No IOMMU: /sys/class/iommu and /sys/kernel/iommu_groups are empty or missing.",
            "Enable VT-d in the firmware setup and add intel_iommu=on to the kernel command line (" + Grub + ").");
    }

    // ---- mdev-types ----

    private static DoctorCheck MdevTypes(DoctorEnvironment env, PciGpu? gpu, GvtSetting? gvt)
    {
        const string id = MdevTypesId, title = "vGPU types offered";
        if (gpu is null) return Skipped(id, title, "No Intel GPU found, so no vGPU types to look for.", SeeIntelGpu);
        var dir = Path.Combine(env.SysfsRoot, "bus", "pci", "devices", gpu.Address, "mdev_supported_types");
        var types = SafeEntries(dir);
        if (types.Count == 0)
        {
            var gvtOn = gvt is not null && gvt.LiveOn;
            return new(id, title, CheckStatus.Failed,
                $"{gpu.Address} offers no vGPU types: /sys/bus/pci/devices/{gpu.Address}/mdev_supported_types is {(SafeDirExists(dir) ? "empty" : "missing")}.",
                gvtOn
                    ? "Load kvmgt with `sudo modprobe kvmgt` (see the modules check); the types then appear under mdev_supported_types."
                    : "Boot with i915.enable_gvt=1 (see the enable-gvt check) and run `sudo modprobe kvmgt`; the types then appear under mdev_supported_types.");
        }
        var listed = types.Select(t =>
        {
            var available = ReadLine(Path.Combine(t, "available_instances"));
            return available is null ? Path.GetFileName(t) : $"{Path.GetFileName(t)} ({available} available)";
        });
        return new(id, title, CheckStatus.Ok, $"{gpu.Address}: {string.Join(", ", listed)}.");
    }

    // ---- sriov-gpu, sriov-driver ----

    private static DoctorCheck SriovGpu(DoctorEnvironment env, PciGpu gpu)
    {
        const string id = SriovGpuId, title = "GPU offers SR-IOV VFs";
        var dir = Path.Combine(env.SysfsRoot, "bus", "pci", "devices", gpu.Address);
        var total = ReadLine(Path.Combine(dir, "sriov_totalvfs"));
        if (!TryInt(total ?? "", out var vfs) || vfs <= 0)
            return new(id, title, CheckStatus.Failed, $"{gpu.Address}: sriov_totalvfs is '{total}', so it offers no VFs.",
                "Enable SR-IOV for the GPU in the firmware setup if it has such an option, and check the sriov-driver check.");
        var enabled = SafeEntries(dir).Count(e => Path.GetFileName(e).StartsWith("virtfn", StringComparison.Ordinal));
        return new(id, title, CheckStatus.Ok, $"{gpu.Address} offers {vfs} VFs (sriov_totalvfs); {enabled} enabled now.");
    }

    /// <summary>
    /// Mainline i915 makes no VFs of an iGPU; the i915 SR-IOV build does with enable_guc=3 and max_vfs,
    /// and xe with max_vfs. The live module parameters say what the running driver was given.
    /// </summary>
    private static DoctorCheck SriovDriver(DoctorEnvironment env, PciGpu gpu)
    {
        const string id = SriovDriverId, title = "GPU driver can make VFs";
        var link = Path.Combine(env.SysfsRoot, "bus", "pci", "devices", gpu.Address, "driver");
        string? driver;
        try { driver = new FileInfo(link).LinkTarget is { } target ? Path.GetFileName(target) : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { driver = null; }
        var parameters = Path.Combine(env.SysfsRoot, "module", driver ?? "none", "parameters");
        var maxVfs = ReadLine(Path.Combine(parameters, "max_vfs"));
        switch (driver)
        {
            case null:
                return new(id, title, CheckStatus.Failed, $"{gpu.Address} has no driver bound, and the kernel makes no VFs without one.",
                    "Load the GPU's driver (i915 from the i915 SR-IOV build, or xe); gvtd enables the VFs as soon as it binds.");
            case "i915":
                var guc = ReadLine(Path.Combine(parameters, "enable_guc"));
                if (maxVfs is null)
                    return new(id, title, CheckStatus.Failed, $"{gpu.Address} is driven by an i915 without SR-IOV (it has no max_vfs parameter).",
                        "Install the i915 SR-IOV build (i915-sriov-dkms) or use the xe driver, then boot with i915.enable_guc=3 i915.max_vfs=7 (" + Grub + ").");
                if (guc != "3" || !TryInt(maxVfs, out var n) || n <= 0)
                    return new(id, title, CheckStatus.Failed, $"i915 runs with enable_guc={guc ?? "?"} max_vfs={maxVfs}; SR-IOV needs enable_guc=3 and max_vfs above 0.",
                        "Boot with i915.enable_guc=3 i915.max_vfs=7 (" + Grub + ").");
                return new(id, title, CheckStatus.Ok, $"i915 with enable_guc=3 and max_vfs={maxVfs}.");
            case "xe":
                if (maxVfs is not null && (!TryInt(maxVfs, out var m) || m <= 0))
                    return new(id, title, CheckStatus.Failed, $"xe runs with max_vfs={maxVfs}, so it makes no VFs.",
                        "Boot with xe.max_vfs=7 (" + Grub + ").");
                return new(id, title, CheckStatus.Ok, maxVfs is null ? "xe (no max_vfs parameter: its default applies)." : $"xe with max_vfs={maxVfs}.");
            default:
                return new(id, title, CheckStatus.Warning, $"{gpu.Address} is driven by {driver}, which the doctor does not know for SR-IOV.",
                    "Check the driver's documentation for how it enables VFs; gvtd writes sriov_numvfs as for any driver.");
        }
    }

    // ---- qemu-version ----

    private static DoctorCheck Qemu(DoctorEnvironment env)
    {
        const string id = QemuVersionId, title = "QEMU 2.12 or newer";
        string? output;
        try { output = env.RunVersion("qemu-system-x86_64"); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new(id, title, CheckStatus.Warning, $"Could not run qemu-system-x86_64 --version: {e.Message}",
                "Run `qemu-system-x86_64 --version` yourself and make sure it is 2.12 or newer.");
        }
        if (output is null) return Skipped(id, title, "qemu-system-x86_64 is not installed (or not on PATH); gvtd does not need it, your VMs do.",
                "To run VMs with the vGPUs, install QEMU 2.12 or newer with your package manager (qemu-system-x86 on Debian and Ubuntu).");
        var m = Regex.Match(output, @"version\s+(\d+)\.(\d+)(?:\.(\d+))?");
        if (!m.Success || !TryInt(m.Groups[1].Value, out var major) || !TryInt(m.Groups[2].Value, out var minor))
            return new(id, title, CheckStatus.Warning, $"qemu-system-x86_64 --version printed no version: '{FirstLine(output)}'.",
                "Run `qemu-system-x86_64 --version` yourself and make sure it is 2.12 or newer.");
        var version = m.Value["version".Length..].Trim();
        if ((major, minor).CompareTo((2, 12)) < 0)
            return new(id, title, CheckStatus.Failed, $"QEMU {version}: older than 2.12.",
                "Upgrade QEMU to 2.12 or newer with your package manager (qemu-system-x86 on Debian and Ubuntu).");
        return new(id, title, CheckStatus.Ok, $"QEMU {version}.");
    }

    // ---- gvtd ----

    private static DoctorCheck Gvtd(DoctorEnvironment env)
    {
        const string id = GvtdId, title = "gvtd running with a valid configuration";
        if (env.DaemonStatus is null) return Skipped(id, title, "Not asked: no way to reach gvtd over D-Bus from here.",
                "Run `systemctl status gvtd` to see whether it runs and accepted its configuration.");
        DaemonStatus? status;
        try { status = env.DaemonStatus(); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new(id, title, CheckStatus.Warning, $"Could not ask gvtd: {e.Message}",
                "Run `systemctl status gvtd` to see whether it runs.");
        }
        if (status is null || !status.Running)
            return new(id, title, CheckStatus.Failed, "gvtd is not running (it does not answer on D-Bus).",
                "Start it with `sudo systemctl enable --now gvtd`.");
        var state = status.State is null ? "" : $" ({status.State})";
        if (status.ConfigError is not null)
            return new(id, title, CheckStatus.Failed, $"gvtd is running{state} but refused its configuration: {status.ConfigError}",
                "Correct /etc/gvtd/vgpus.yaml as the error says, then run `sudo systemctl reload gvtd`.");
        return new(id, title, CheckStatus.Ok, $"gvtd is running{state} and its configuration is valid.");
    }

    // ---- helpers: nothing below throws for a missing, odd or unreadable file ----

    /// <summary>A check that could not be decided; like every check that is not Ok, it says what to do.</summary>
    private static DoctorCheck Skipped(string id, string title, string why, string fix) => new(id, title, CheckStatus.Skipped, why, fix);

    private const string SeeIntelGpu = "Fix the intel-gpu check first.";

    private static DoctorCheck Safe(string id, string title, Func<DoctorCheck> check)
    {
        try { return check(); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new(id, title, CheckStatus.Warning, $"The check itself failed: {e.GetType().Name}: {e.Message}",
                "Report this as a gvtctl bug, with the output of `gvtctl doctor --json`.");
        }
    }

    /// <summary>Runs a shared read once; on failure, gives the check to report in its place.</summary>
    private static T? Guard<T>(string id, string title, Func<T?> read, out DoctorCheck? failure) where T : class
    {
        failure = null;
        try { return read(); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            failure = Safe(id, title, () => throw e);
            return null;
        }
    }

    private static string? ReadAll(string path)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException
                                      or System.Security.SecurityException)
        {
            return null;
        }
    }

    /// <summary>The file's text, trimmed, with NULs (as /proc/cmdline may hold) read as spaces; null when unreadable.</summary>
    private static string? ReadLine(string path) => ReadAll(path)?.Replace('\0', ' ').Trim();

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    private static IReadOnlyList<string> SafeEntries(string dir)
    {
        try { return Directory.Exists(dir) ? Directory.GetFileSystemEntries(dir).Order(StringComparer.Ordinal).ToList() : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return [];
        }
    }

    private static bool SafeDirExists(string path)
    {
        try { return Directory.Exists(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return false; }
    }

    private static bool SafeExists(string path)
    {
        try { return Directory.Exists(path) || File.Exists(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return false; }
    }

    private static bool TryInt(string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
