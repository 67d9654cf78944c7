namespace Gvtd.Contract;

/// <summary>
/// What a VM needs to take a vGPU: the QEMU device option and libvirt's hostdev element. One rule
/// for the daemon's VGpu.QemuArgs property and for `gvtctl qemu-args` / `libvirt-xml`.
/// </summary>
public static class VmArguments
{
    /// <summary>GVT-g's parent is the i915 GPU; there QEMU can show the vGPU's display and its OpRegion.</summary>
    public static bool IsGvtg(string parentDriver) => parentDriver == "i915";

    /// <summary>
    /// The value of <c>-device</c>. sysfsdev is the device's own directory (the seed manual's
    /// form, valid for any parent bus); rombar=0 because a vGPU has no option ROM.
    /// </summary>
    public static string QemuDevice(string sysfsPath, string parentDriver) =>
        $"vfio-pci,sysfsdev={sysfsPath}{(IsGvtg(parentDriver) ? ",display=on,x-igd-opregion=on" : "")},rombar=0";

    /// <summary>The whole option as a QEMU command line takes it.</summary>
    public static string QemuArgs(string sysfsPath, string parentDriver) => "-device " + QemuDevice(sysfsPath, parentDriver);

    /// <summary>libvirt's &lt;hostdev&gt; for the domain XML; libvirt finds the device by UUID.</summary>
    public static string LibvirtHostdev(string uuid, string parentDriver) =>
        $"""
        <hostdev mode='subsystem' type='mdev' model='vfio-pci'{(IsGvtg(parentDriver) ? " display='on'" : "")}>
          <source>
            <address uuid='{uuid}'/>
          </source>
        </hostdev>
        """;
}
