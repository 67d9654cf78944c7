using Gvtd.Contract;

namespace Gvtd.Sysfs;

/// <summary>One directory under mdev_supported_types; Gvt is GVT-g's parsed description (kvmgt.c description_show), else null.</summary>
public sealed record MdevType(string Id, string Name, string Description, string DeviceApi, int AvailableInstances, GvtDescription? Gvt);

/// <summary>A device that can host mediated devices (a GPU, the mtty sample, a vfio-ap matrix ...).</summary>
public sealed record MdevParent(string Name, string SysfsPath, string Driver, IReadOnlyList<MdevType> Types)
{
    public MdevType? FindType(string id) => Types.FirstOrDefault(t => t.Id == id);
}
