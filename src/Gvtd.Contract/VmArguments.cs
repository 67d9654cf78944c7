namespace Gvtd.Contract;

/// <summary>
/// What a VM needs to take a vGPU: the QEMU device option and libvirt's hostdev element. One rule
/// for the daemon's VGpu.QemuArgs property and for `gvtctl qemu-args` / `libvirt-xml`. The kernel
/// says which VFIO device model fits in each type's <c>device_api</c> file: <c>vfio-pci</c> for
/// GPUs (and the mtty sample), <c>vfio-ap</c> and <c>vfio-ccw</c> for s390's crypto and channel
/// devices. Until a parent is there to read it from, the PCI form is given, as every GPU uses.
/// </summary>
public static class VmArguments
{
    private const string Pci = "vfio-pci";

    /// <summary>GVT-g's parent is the i915 GPU; there QEMU can show the vGPU's display and its OpRegion.</summary>
    public static bool IsGvtg(string parentDriver) => parentDriver == "i915";

    /// <summary>
    /// Where the device is or will be: its own directory once it exists, else the parent's
    /// directory plus the UUID, else (parent absent) the kernel's bus link.
    /// </summary>
    public static string DevicePath(string uuid, string sysfsPath, string? parentPath) =>
        sysfsPath.Length > 0 ? sysfsPath : parentPath is { Length: > 0 } ? $"{parentPath}/{uuid}" : $"/sys/bus/mdev/devices/{uuid}";

    /// <summary>The QEMU and libvirt model for a type's device_api; the PCI one when it is not known.</summary>
    public static string Model(string deviceApi) =>
        deviceApi.StartsWith("vfio-", StringComparison.Ordinal) && deviceApi.Length > 5 && deviceApi.All(c => char.IsAsciiLetterLower(c) || c == '-')
            ? deviceApi : Pci;

    /// <summary>
    /// The value of <c>-device</c>. sysfsdev is the device's own directory (the seed manual's
    /// form, docs/kernel/gvt-g.md; valid for any parent bus); for PCI, rombar=0 because a vGPU
    /// has no option ROM.
    /// </summary>
    public static string QemuDevice(string sysfsPath, string parentDriver, string deviceApi) => Model(deviceApi) switch
    {
        Pci => $"{Pci},sysfsdev={sysfsPath}{(IsGvtg(parentDriver) ? ",display=on,x-igd-opregion=on" : "")},rombar=0",
        var model => $"{model},sysfsdev={sysfsPath}",
    };

    /// <summary>The whole option as a QEMU command line takes it.</summary>
    public static string QemuArgs(string sysfsPath, string parentDriver, string deviceApi) => "-device " + QemuDevice(sysfsPath, parentDriver, deviceApi);

    /// <summary>libvirt's &lt;hostdev&gt; for the domain XML; libvirt finds the device by UUID.</summary>
    public static string LibvirtHostdev(string uuid, string parentDriver, string deviceApi)
    {
        var model = Model(deviceApi);
        return $"""
            <hostdev mode='subsystem' type='mdev' model='{model}'{(model == Pci && IsGvtg(parentDriver) ? " display='on'" : "")}>
              <source>
                <address uuid='{uuid}'/>
              </source>
            </hostdev>
            """;
    }

    /// <summary>
    /// An SR-IOV VF is a whole PCI function: QEMU takes it by address. gvtd keeps it on vfio-pci, so
    /// libvirt must not manage (detach and reattach) it: managed='no'.
    /// </summary>
    public static string QemuArgsForFunction(string address) => $"-device {Pci},host={address}";

    public static string LibvirtHostdevForFunction(string address)
    {
        // DDDD:BB:DD.F, as gvtd normalises every PCI address.
        var (domain, bus, slot, function) = (address[..4], address[5..7], address[8..10], address[11..]);
        return $"""
            <hostdev mode='subsystem' type='pci' managed='no'>
              <source>
                <address domain='0x{domain}' bus='0x{bus}' slot='0x{slot}' function='0x{function}'/>
              </source>
            </hostdev>
            """;
    }
}
