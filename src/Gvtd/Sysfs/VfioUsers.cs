namespace Gvtd.Sysfs;

/// <summary>
/// Which VFIO groups and devices some process holds open, read from /proc/*/fd. QEMU holds
/// /dev/vfio/N (the IOMMU group) and, with iommufd, /dev/vfio/devices/vfioN; while it does, a
/// remove write blocks in the kernel, so gvtd treats either as "in use" and never removes the device.
/// </summary>
public sealed class VfioUsers(string procRoot)
{
    public sealed record Snapshot(IReadOnlySet<int> Groups, IReadOnlySet<string> DeviceNodes, bool Complete);

    public Snapshot Read()
    {
        var groups = new HashSet<int>();
        var nodes = new HashSet<string>(StringComparer.Ordinal);
        var complete = true;
        IEnumerable<string> processes;
        try
        {
            processes = Directory.EnumerateDirectories(procRoot);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new(groups, nodes, Complete: false);
        }
        foreach (var process in processes)
        {
            if (!char.IsAsciiDigit(Path.GetFileName(process)[0])) continue;
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(process, "fd")))
                {
                    var target = new FileInfo(fd).LinkTarget;
                    if (target is null || !target.StartsWith("/dev/vfio/", StringComparison.Ordinal)) continue;
                    var rest = target["/dev/vfio/".Length..];
                    if (int.TryParse(rest, out var group)) groups.Add(group);
                    else if (rest.StartsWith("devices/", StringComparison.Ordinal)) nodes.Add(rest["devices/".Length..]);
                }
            }
            catch (UnauthorizedAccessException)
            {
                complete = false; // not root: we cannot see other users' processes
            }
            catch (IOException)
            {
                // the process exited while we looked
            }
        }
        return new(groups, nodes, complete);
    }
}
