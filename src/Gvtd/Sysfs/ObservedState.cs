namespace Gvtd.Sysfs;

/// <summary>GVT-g's type description, as i915 prints it (kvmgt.c description_show).</summary>
public sealed record GvtDescription(long LowGmMiB, long HighGmMiB, int Fence, string Resolution, int Weight);

public sealed record MdevType(string Id, string Name, string Description, string DeviceApi, int AvailableInstances, GvtDescription? Gvt);

/// <summary>A device that can host mediated devices (a GPU, the mtty sample, a vfio-ap matrix ...).</summary>
public sealed record MdevParent(string Name, string SysfsPath, string Driver, IReadOnlyList<MdevType> Types)
{
    public MdevType? FindType(string id) => Types.FirstOrDefault(t => t.Id == id);
}

/// <summary>A live mediated device. InUse means some process holds its VFIO group or device open.</summary>
public sealed record MdevDevice(string Uuid, string Parent, string Type, string SysfsPath, int? IommuGroup, bool InUse);

/// <summary>One consistent read of the host. Problems reading odd entries are kept, not thrown.</summary>
public sealed record ObservedState(
    IReadOnlyDictionary<string, MdevParent> Parents,
    IReadOnlyDictionary<string, MdevDevice> Devices,
    IReadOnlyList<string> Warnings)
{
    public static readonly ObservedState Empty = new(new Dictionary<string, MdevParent>(), new Dictionary<string, MdevDevice>(), []);
}
