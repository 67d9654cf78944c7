namespace Gvtd.Sysfs;

/// <summary>
/// Every sysfs path gvtd uses, derived from one mount point so tests and the simulator can point it at
/// a temporary tree (as mdevctl's environment root does). Nothing else builds sysfs paths.
/// </summary>
public sealed class SysfsRoot(string root)
{
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>Every device that can host mediated devices links here, whatever its bus.</summary>
    public string MdevBusClass => Path.Combine(Root, "class", "mdev_bus");
    public string MdevDevices => Path.Combine(Root, "bus", "mdev", "devices");

    /// <summary>Every PCI function, SR-IOV physical and virtual ones among them.</summary>
    public string PciDevices => Path.Combine(Root, "bus", "pci", "devices");
    public string PciDevice(string address) => Path.Combine(PciDevices, address);
    /// <summary>Writing a device's address here binds it to the driver its driver_override names.</summary>
    public string PciDriversProbe => Path.Combine(Root, "bus", "pci", "drivers_probe");
    public string DebugDri => Path.Combine(Root, "kernel", "debug", "dri");

    public static string NumVfsFile(string pfPath) => Path.Combine(pfPath, "sriov_numvfs");
    public static string AutoProbeFile(string pfPath) => Path.Combine(pfPath, "sriov_drivers_autoprobe");
    public static string DriverOverrideFile(string vfPath) => Path.Combine(vfPath, "driver_override");
    public static string NvidiaTypeFile(string vfPath) => Path.Combine(vfPath, "nvidia", "current_vgpu_type");

    public static string TypesDir(string parentPath) => Path.Combine(parentPath, "mdev_supported_types");
    public static string CreateFile(string parentPath, string type) => Path.Combine(TypesDir(parentPath), type, "create");
    public static string RemoveFile(string devicePath) => Path.Combine(devicePath, "remove");
}
