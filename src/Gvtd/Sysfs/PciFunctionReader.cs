using System.Globalization;

namespace Gvtd.Sysfs;

/// <summary>
/// Reads the SR-IOV physical functions and their virtual functions from /sys/bus/pci/devices, in
/// the same spirit as the mdev reader: tolerant of devices that come and go, and never taking what
/// it could not read for absent (<see cref="ObservedFunctions.Blind"/>). It reads no attribute whose
/// read takes the device lock (sriov_numvfs, driver_override): a pass must never wait for a VM
/// (docs/kernel/device-lock.md).
/// A PF is read when <paramref name="scope"/> watches it: one it names (declared or owned) always,
/// a display controller (prune: all) when it has VFs. Any other PF with VFs (an SR-IOV NIC nobody
/// asked about) is read no further than its class and its VF links, to say in the plan why it is left alone.
/// </summary>
internal static class PciFunctionReader
{
    public static ObservedFunctions Read(SysfsRoot root, FunctionScope scope, Func<VfioUsers.Snapshot> users, List<string> warnings)
    {
        var interesting = scope.Named;
        var unwatched = new List<UnwatchedFunction>();
        if (!SysfsReader.TryEntries(root.PciDevices, out var entries, out var error))
        {
            warnings.Add($"cannot list {root.PciDevices}: {error}; changing no SR-IOV device until it can");
            return new(new Dictionary<string, PhysicalFunction>(), $"cannot list {root.PciDevices}: {error}");
        }
        var raw = new List<(string Address, string Path, string Driver, int Total, bool AutoProbe, List<(int Index, string Address, string Path)> Vfs, int? Class)>();
        foreach (var link in entries)
        {
            var address = Path.GetFileName(link);
            try
            {
                var path = SysfsReader.Resolve(link);
                var totalFile = Path.Combine(path, "sriov_totalvfs");
                if (!File.Exists(totalFile)) continue;
                var vfs = VfLinks(path);
                if (vfs.Count == 0 && !interesting.Contains(address)) continue;
                var pciClass = FunctionScope.ParseClass(SysfsReader.ReadAttribute(path, "class"));
                if (!scope.Watches(address, pciClass))
                {
                    unwatched.Add(new UnwatchedFunction(address, pciClass, vfs.Count));
                    continue;
                }
                var total = int.TryParse(SysfsReader.ReadAttribute(path, "sriov_totalvfs"), NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : 0;
                var autoProbe = SysfsReader.ReadAttribute(path, "sriov_drivers_autoprobe") != "0";
                raw.Add((address, path, SysfsReader.LinkName(path, "driver") ?? "", total, autoProbe, vfs, pciClass));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Changing under us (VFs going) or unreadable: a declared PF read this way stays unseen.
                warnings.Add($"cannot read PCI device {address}: {e.Message}");
                if (interesting.Contains(address)) return new(new Dictionary<string, PhysicalFunction>(), $"cannot read PCI device {address}: {e.Message}");
            }
        }
        // Only scan /proc when some VF exists that a VM could hold.
        var seen = raw.Any(r => r.Vfs.Count > 0) ? users() : null;
        var functions = new Dictionary<string, PhysicalFunction>(StringComparer.Ordinal);
        foreach (var (address, path, driver, total, autoProbe, vfs, pciClass) in raw)
        {
            var read = vfs.Select(v => ReadVf(v.Index, v.Address, v.Path, seen!)).ToList();
            functions[address] = new PhysicalFunction(address, path, driver, total, autoProbe, read,
                driver.Length > 0 ? ObservedProvisioning.Read(root, path, driver, total, warnings) : null, pciClass) { PossibleVfs = PossibleVfs(address, path, total) };
        }
        return new(functions, null) { Unwatched = unwatched };
    }

    /// <summary>
    /// Every address a VF of this PF can have: the PF's routing ID plus sriov_offset + index ×
    /// sriov_stride, for each of its sriov_totalvfs (docs/kernel/sriov.md). Neither file takes the
    /// device lock. So a VF's uevents are known as the PF's before the VF exists; empty where they
    /// cannot be read.
    /// </summary>
    private static IReadOnlyList<string> PossibleVfs(string pfAddress, string path, int total)
    {
        string Read(string name)
        {
            try
            {
                return SysfsReader.ReadAttribute(path, name);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return ""; // only which uevents count depends on it: the PF's own and its VFs' now still do
            }
        }
        var parts = pfAddress.Split(':', '.');
        if (parts.Length != 4 || total <= 0
            || !int.TryParse(Read("sriov_offset"), NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            || !int.TryParse(Read("sriov_stride"), NumberStyles.None, CultureInfo.InvariantCulture, out var stride)
            || !int.TryParse(parts[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var bus)
            || !int.TryParse(parts[2], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var device)
            || !int.TryParse(parts[3], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var function))
            return [];
        var rid = (bus << 8) | (device << 3) | function;
        return [.. Enumerable.Range(0, total).Select(i => rid + offset + i * stride).TakeWhile(r => r <= 0xffff)
            .Select(r => $"{parts[0]}:{r >> 8:x2}:{(r >> 3) & 0x1f:x2}.{r & 7:x1}")];
    }

    /// <summary>A PF's VFs from its virtfnN links: (N, the VF's address, its directory), in order.</summary>
    public static List<(int Index, string Address, string Path)> VfLinks(string pfPath) =>
        Directory.EnumerateFileSystemEntries(pfPath, "virtfn*")
            .Select(link => (Link: link, Number: Path.GetFileName(link)["virtfn".Length..]))
            .Where(v => v.Number.Length > 0 && v.Number.All(char.IsAsciiDigit))
            .Select(v => (int.Parse(v.Number, CultureInfo.InvariantCulture), SysfsReader.LinkName(pfPath, Path.GetFileName(v.Link)) ?? "", SysfsReader.Resolve(v.Link)))
            .OrderBy(v => v.Item1).ToList();

    private static VirtualFunction ReadVf(int index, string address, string path, VfioUsers.Snapshot users)
    {
        var group = SysfsReader.LinkName(path, "iommu_group") is { } g && int.TryParse(g, out var n) ? n : (int?)null;
        var nodesKnown = SysfsReader.TryEntries(Path.Combine(path, "vfio-dev"), out var nodes, out _);
        var held = (group is { } grp && users.Groups.Contains(grp)) || nodes.Any(v => users.DeviceNodes.Contains(Path.GetFileName(v)));
        var use = held ? DeviceUse.Held : users.Complete && nodesKnown ? DeviceUse.Free : DeviceUse.Unknown;
        // Links and directory listings only: never driver_override, whose read takes the device lock,
        // which an unbind waiting for a VM holds (docs/kernel/device-lock.md). The driver link says
        // what is bound; the applier writes the override before every bind anyway.
        return new VirtualFunction(address, index, path, SysfsReader.LinkName(path, "driver") ?? "", group, use, ReadNvidia(path));
    }

    /// <summary>NVIDIA's vGPU type files: "ID : Name" lines under a header, and the current ID (0: none).</summary>
    public static NvidiaVf? ReadNvidia(string vfPath)
    {
        var dir = Path.Combine(vfPath, "nvidia");
        if (!Directory.Exists(dir)) return null;
        var creatable = SysfsReader.ReadAttribute(dir, "creatable_vgpu_types").Split('\n')
            .Select(line => line.Split(':', 2))
            .Where(parts => parts.Length == 2 && int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(parts => (parts[0].Trim(), parts[1].Trim())).ToList();
        return new NvidiaVf(SysfsReader.ReadAttribute(dir, "current_vgpu_type").Trim(), creatable);
    }
}

/// <summary>The PFs read, by address; Blind says why they could not be read (then nothing SR-IOV changes).</summary>
public sealed record ObservedFunctions(IReadOnlyDictionary<string, PhysicalFunction> Functions, string? Blind)
{
    /// <summary>PFs with VFs that gvtd does not look at (<see cref="FunctionScope"/>): listed only to say why.</summary>
    public IReadOnlyList<UnwatchedFunction> Unwatched { get; init; } = [];

    public static readonly ObservedFunctions None = new(new Dictionary<string, PhysicalFunction>(), null);
}
