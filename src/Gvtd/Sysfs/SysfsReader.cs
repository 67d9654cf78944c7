using System.Globalization;
using Gvtd.Contract;

namespace Gvtd.Sysfs;

/// <summary>
/// Reads parents, their types and the live mediated devices from sysfs. Read-only, and tolerant:
/// an entry that vanishes or looks odd mid-read becomes a warning, never an exception, because
/// devices come and go while we look. What cannot be read is said so (ObservedState.Blind and
/// Unreadable, DeviceUse.Unknown), never read as "nothing there"; only a directory that does not
/// exist is empty.
/// </summary>
public sealed class SysfsReader(SysfsRoot root, VfioUsers vfioUsers)
{
    /// <param name="freshUsers">Rescan /proc for VFIO users even if nothing was seen to change (before any removal).</param>
    /// <param name="functions">SR-IOV PFs to read even without VFs (declared or owned ones).</param>
    /// <param name="displayControllers">Also read display-class PFs with VFs (prune: all); no other PF is read (<see cref="FunctionScope"/>).</param>
    public ObservedState Read(bool freshUsers = false, IReadOnlySet<string>? functions = null, bool displayControllers = false)
    {
        var warnings = new List<string>();
        var parents = ReadParents(warnings);
        // One scan of /proc per read, and only if some device exists that a VM could hold.
        VfioUsers.Snapshot? users = null;
        VfioUsers.Snapshot Users() => users ??= vfioUsers.Read(freshUsers);
        var sriov = PciFunctionReader.Read(root, new FunctionScope(functions ?? NoFunctions, displayControllers), Users, warnings);
        if (!TryEntries(root.MdevDevices, out var listed, out var blind))
        {
            warnings.Add($"cannot list {root.MdevDevices}: {blind}; changing and forgetting nothing until it can");
            return new ObservedState(parents, new Dictionary<string, MdevDevice>(), warnings) { Blind = $"cannot list {root.MdevDevices}: {blind}", Sriov = sriov };
        }
        var links = listed.ToList();
        var unreadable = new HashSet<string>(StringComparer.Ordinal);
        var devices = ReadDevices(links, links.Count == 0 ? NoUsers : Users(), warnings, unreadable);
        return new ObservedState(parents, devices, warnings) { Unreadable = unreadable, Sriov = sriov };
    }

    private static readonly HashSet<string> NoFunctions = new(StringComparer.Ordinal);

    /// <summary>Only the parents and their types: no devices, so /proc is never scanned (gvtd --check-config).</summary>
    public IReadOnlyDictionary<string, MdevParent> ReadParents() => ReadParents([]);

    private Dictionary<string, MdevParent> ReadParents(List<string> warnings)
    {
        var parents = new Dictionary<string, MdevParent>(StringComparer.Ordinal);
        foreach (var link in SafeEntries(root.MdevBusClass))
        {
            var name = Path.GetFileName(link);
            try
            {
                var path = Resolve(link);
                var types = SafeEntries(SysfsRoot.TypesDir(path))
                    .Select(dir => ReadType(dir, warnings))
                    .OfType<MdevType>()
                    .OrderBy(t => t.Id, StringComparer.Ordinal)
                    .ToList();
                parents[name] = new MdevParent(name, path, LinkName(path, "driver") ?? LinkName(path, "subsystem") ?? "", types);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                warnings.Add($"skipped parent {name}: {e.Message}");
            }
        }
        return parents;
    }

    private static MdevType? ReadType(string dir, List<string> warnings)
    {
        var id = Path.GetFileName(dir);
        try
        {
            var available = ReadAttribute(dir, "available_instances");
            if (!int.TryParse(available, NumberStyles.None, CultureInfo.InvariantCulture, out var instances))
            {
                warnings.Add($"type {id}: available_instances is '{available}', not a number; treating it as 0");
                instances = 0;
            }
            var description = ReadAttribute(dir, "description");
            return new MdevType(id, ReadAttribute(dir, "name"), description, ReadAttribute(dir, "device_api"), instances,
                GvtDescriptionParser.Parse(description));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warnings.Add($"skipped type {id}: {e.Message}");
            return null;
        }
    }

    private static readonly VfioUsers.Snapshot NoUsers = new(new HashSet<int>(), new HashSet<string>(), Complete: true);

    private static Dictionary<string, MdevDevice> ReadDevices(List<string> links, VfioUsers.Snapshot users, List<string> warnings, HashSet<string> unreadable)
    {
        var devices = new Dictionary<string, MdevDevice>(StringComparer.Ordinal);
        foreach (var link in links)
        {
            var uuid = Path.GetFileName(link);
            try
            {
                var path = Resolve(link);
                var type = LinkName(path, "mdev_type");
                if (type is null)
                {
                    warnings.Add($"device {uuid} has no mdev_type link; ignoring it");
                    continue;
                }
                var group = LinkName(path, "iommu_group") is { } g && int.TryParse(g, out var n) ? n : (int?)null;
                // A device node gvtd cannot list might be the one a VM holds.
                var nodesKnown = TryEntries(Path.Combine(path, "vfio-dev"), out var vfioNodes, out _);
                var held = (group is { } grp && users.Groups.Contains(grp)) || vfioNodes.Any(v => users.DeviceNodes.Contains(Path.GetFileName(v)));
                var use = held ? DeviceUse.Held : users.Complete && nodesKnown ? DeviceUse.Free : DeviceUse.Unknown;
                devices[uuid] = new MdevDevice(uuid, Path.GetFileName(Path.GetDirectoryName(path)!), type, path, group, use);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone between the listing and now, or there but unreadable: only the first is absent.
                if (new FileInfo(link).LinkTarget is not null || Path.Exists(link))
                {
                    unreadable.Add(uuid);
                    warnings.Add($"cannot read device {uuid}: {e.Message}; it is left as it is");
                }
            }
        }
        return devices;
    }

    internal static string ReadAttribute(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        return File.Exists(path) ? File.ReadAllText(path).TrimEnd('\n') : "";
    }

    /// <summary>The last path component a symlink points to (sysfs links end in the name we want).</summary>
    internal static string? LinkName(string dir, string link)
    {
        var target = new FileInfo(Path.Combine(dir, link)).LinkTarget;
        return target is null ? null : Path.GetFileName(target.TrimEnd('/'));
    }

    /// <summary>Follows a sysfs symlink to the real directory, keeping the result inside the same root.</summary>
    internal static string Resolve(string link)
    {
        var target = new FileInfo(link).LinkTarget ?? throw new IOException($"{link} is not a symlink");
        var path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(link)!, target));
        return Directory.Exists(path) ? path : throw new IOException($"{link} points to {target}, which does not exist");
    }

    /// <summary>For what only adds (parents, types): an unreadable directory gives fewer of them, and a warning elsewhere.</summary>
    private static IEnumerable<string> SafeEntries(string dir) => TryEntries(dir, out var entries, out _) ? entries : [];

    /// <summary>
    /// The entries of <paramref name="dir"/>, sorted; none when it does not exist. False, with the
    /// reason, when it exists (or cannot even be looked up) but cannot be listed: EACCES, EIO, a
    /// file where a directory should be, a loop of links.
    /// </summary>
    internal static bool TryEntries(string dir, out IReadOnlyList<string> entries, out string error)
    {
        entries = [];
        error = "";
        try
        {
            entries = Directory.GetFileSystemEntries(dir).Order(StringComparer.Ordinal).ToArray();
            return true;
        }
        catch (DirectoryNotFoundException) when (!Path.Exists(dir) && new FileInfo(dir).LinkTarget is null)
        {
            return true; // not there at all: nothing in it
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = e.Message;
            return false;
        }
    }
}
