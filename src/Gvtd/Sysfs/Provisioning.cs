using System.Globalization;

namespace Gvtd.Sysfs;

/// <summary>
/// Where a PF driver keeps its per-VF provisioning files (quotas, scheduling). Each driver puts them
/// somewhere else; a new driver is one more entry in <see cref="All"/>. VFs are numbered from 1 here,
/// as every one of these drivers does (vf1 is the first VF; the PF is "pf" or 0).
/// </summary>
public sealed record ProvisioningLayout(string Name, Func<SysfsRoot, string, string, string?> FindBase, string VfSubdirectory)
{
    /// <summary>The directory of VF <paramref name="number"/> (1-based) under the base this layout found.</summary>
    public string VfDirectory(string baseDir, int number) => Path.Combine(baseDir, $"vf{number}", VfSubdirectory);

    /// <summary>The first layout whose directory exists for this PF and driver, with that directory.</summary>
    public static (ProvisioningLayout Layout, string Base)? Find(SysfsRoot root, string pfPath, string driver)
    {
        foreach (var layout in All)
            if (layout.FindBase(root, pfPath, driver) is { } found && Directory.Exists(found))
                return (layout, found);
        return null;
    }

    public static readonly IReadOnlyList<ProvisioningLayout> All =
    [
        // xe from Linux 6.19: /sys/bus/pci/drivers/xe/<PF>/sriov_admin/vfN/profile/*.
        new("xe sriov_admin", (_, pf, driver) => driver == "xe" ? Path.Combine(pf, "sriov_admin") : null, "profile"),
        // The out-of-tree i915 SR-IOV build: /sys/class/drm/cardN/prelim_iov/vfN/gt0/*.
        new("i915 prelim_iov", (_, pf, driver) => driver == "i915" ? DrmCardSubdirectory(pf, "prelim_iov") : null, "gt0"),
        // xe before 6.19: the same names under debugfs, /sys/kernel/debug/dri/<PF>/gt0/vfN/*.
        new("xe debugfs", (root, pf, driver) => driver == "xe" ? Path.Combine(root.DebugDri, Path.GetFileName(pf), "gt0") : null, ""),
    ];

    private static string? DrmCardSubdirectory(string pf, string name)
    {
        var drm = Path.Combine(pf, "drm");
        if (!Directory.Exists(drm)) return null;
        return Directory.EnumerateDirectories(drm, "card*").Order(StringComparer.Ordinal)
            .Select(card => Path.Combine(card, name)).FirstOrDefault(Directory.Exists);
    }
}

/// <summary>
/// What a PF's driver offers for provisioning, and what each VF has now. Offered is the file names
/// in the first VF's directory; Values[i] is VF i+1's (a VF directory may appear only once VFs are
/// enabled, so Values can be shorter than the VF count).
/// </summary>
public sealed record ObservedProvisioning(ProvisioningLayout Layout, string Base, IReadOnlyList<string> Offered,
    IReadOnlyList<IReadOnlyDictionary<string, string>> Values)
{
    public string VfDirectory(int number) => Layout.VfDirectory(Base, number);

    /// <summary>
    /// Whether what the driver keeps is what was declared, compared as the driver keeps it: numbers
    /// as numbers (a driver parses "020" and keeps 20; every one of these files holds a decimal
    /// number), anything else as text. The one comparison of planner and applier's read-back.
    /// </summary>
    public static bool SameValue(string kept, string declared) =>
        System.Numerics.BigInteger.TryParse(kept.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var k)
        && System.Numerics.BigInteger.TryParse(declared.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var d)
            ? k == d
            : string.Equals(kept.Trim(), declared.Trim(), StringComparison.Ordinal);

    public static ObservedProvisioning? Read(SysfsRoot root, string pfPath, string driver, int totalVfs, List<string> warnings)
    {
        if (ProvisioningLayout.Find(root, pfPath, driver) is not var (layout, found)) return null;
        var values = new List<IReadOnlyDictionary<string, string>>();
        for (var n = 1; n <= totalVfs; n++)
        {
            var dir = layout.VfDirectory(found, n);
            if (!Directory.Exists(dir)) break;
            var now = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var file in Directory.EnumerateFiles(dir))
            {
                try
                {
                    now[Path.GetFileName(file)] = File.ReadAllText(file).Trim();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Write-only attributes (and unreadable ones) are offered but have no value to compare.
                    now[Path.GetFileName(file)] = "";
                    if (e is not UnauthorizedAccessException) warnings.Add($"cannot read {file}: {e.Message}");
                }
            }
            values.Add(now);
        }
        var offered = values.Count > 0 ? values[0].Keys.Order(StringComparer.Ordinal).ToList() : [];
        return new ObservedProvisioning(layout, found, offered, values);
    }
}
