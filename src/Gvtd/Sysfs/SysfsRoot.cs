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

    public static string TypesDir(string parentPath) => Path.Combine(parentPath, "mdev_supported_types");
    public static string CreateFile(string parentPath, string type) => Path.Combine(TypesDir(parentPath), type, "create");
    public static string RemoveFile(string devicePath) => Path.Combine(devicePath, "remove");
}
