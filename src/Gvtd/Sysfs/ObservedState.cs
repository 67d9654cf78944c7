using Gvtd.Contract;

namespace Gvtd.Sysfs;

/// <summary>One directory under mdev_supported_types; Gvt is GVT-g's parsed description (kvmgt.c description_show), else null.</summary>
public sealed record MdevType(string Id, string Name, string Description, string DeviceApi, int AvailableInstances, GvtDescription? Gvt);

/// <summary>A device that can host mediated devices (a GPU, the mtty sample, a vfio-ap matrix ...).</summary>
public sealed record MdevParent(string Name, string SysfsPath, string Driver, IReadOnlyList<MdevType> Types)
{
    public MdevType? FindType(string id) => Types.FirstOrDefault(t => t.Id == id);
}

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

/// <summary>
/// One consistent read of the host. Problems reading odd entries are kept, not thrown, and what
/// could not be read is never taken for absent: <see cref="Blind"/> says the device list itself
/// could not be read, <see cref="Unreadable"/> names devices listed but not readable.
/// </summary>
public sealed record ObservedState(
    IReadOnlyDictionary<string, MdevParent> Parents,
    IReadOnlyDictionary<string, MdevDevice> Devices,
    IReadOnlyList<string> Warnings)
{
    public static readonly ObservedState Empty = new(new Dictionary<string, MdevParent>(), new Dictionary<string, MdevDevice>(), []);

    /// <summary>Why the list of mediated devices could not be read; null when it was. A blind read shows no devices, and proves none absent.</summary>
    public string? Blind { get; init; }

    /// <summary>Devices the kernel lists whose entries could not be read: they exist, as what is unknown.</summary>
    public IReadOnlySet<string> Unreadable { get; init; } = new HashSet<string>();

    /// <summary>
    /// Whether a device may exist, for everything that would forget it (the ledger) rather than act on
    /// it: yes when it was seen, when it was listed but not readable, and for any UUID when gvtd is blind.
    /// </summary>
    public bool MayExist(string uuid) => Blind is not null || Devices.ContainsKey(uuid) || Unreadable.Contains(uuid);
}
