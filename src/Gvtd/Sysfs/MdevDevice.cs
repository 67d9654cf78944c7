using Gvtd.Contract;

namespace Gvtd.Sysfs;

/// <summary>Whether some process holds a device's VFIO group or device node open.</summary>
public enum DeviceUse
{
    /// <summary>gvtd saw every process's open files, and none holds it.</summary>
    Free,
    /// <summary>Some process (a VM) holds it.</summary>
    Held,
    /// <summary>gvtd could not see every process's open files (no CAP_SYS_PTRACE, hidepid, a container): it may be held.</summary>
    Unknown,
}

/// <summary>A live mediated device.</summary>
public sealed record MdevDevice(string Uuid, string Parent, string Type, string SysfsPath, int? IommuGroup, DeviceUse Use)
{
    /// <summary>
    /// Not known to be free. Everything that would destroy the device (removal, recreation) waits
    /// for Free, so "could not see" never counts as "nobody holds it".
    /// </summary>
    public bool InUse => Use != DeviceUse.Free;
}
