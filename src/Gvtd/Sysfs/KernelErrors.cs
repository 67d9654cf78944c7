namespace Gvtd.Sysfs;

/// <summary>
/// Turns errno from a create or remove into a sentence a person can act on, instead of "os error 22".
/// </summary>
public static class KernelErrors
{
    public static string DescribeCreate(Errno errno, string uuid, string type, string parent) => errno switch
    {
        Errno.EEXIST => $"UUID {uuid} is already used by another mediated device (maybe with another type or on another parent); remove that device or pick a new UUID",
        Errno.ENOSPC => $"no capacity left for type {type} on {parent}: remove a vGPU or choose a smaller type",
        Errno.EINVAL => $"the kernel rejected creating {uuid} as {type} on {parent} (invalid argument); check the type and the parent's driver messages in dmesg",
        Errno.ENODEV => $"parent {parent} went away while creating (driver unbound or unloaded); gvtd will create the device when it returns",
        Errno.ENOENT => $"type {type} no longer exists on {parent}; gvtd will create the device when it returns",
        Errno.EACCES or Errno.EPERM => "permission denied writing to sysfs: gvtd must run as root",
        _ => $"creating {uuid} failed: {errno}",
    };

    public static string DescribeRemove(Errno errno, string uuid) => errno switch
    {
        Errno.ENOENT or Errno.ENODEV => $"device {uuid} was already gone",
        Errno.EBUSY => $"device {uuid} is busy (a VM holds it); gvtd will remove it once it is released",
        Errno.EACCES or Errno.EPERM => "permission denied writing to sysfs: gvtd must run as root",
        _ => $"removing {uuid} failed: {errno}",
    };
}
