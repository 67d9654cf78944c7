namespace Gvtd.Tests.Support;

/// <summary>
/// Builds sysfs trees on disk laid out like a real kernel's (docs/kernel/captures/sysfs-mtty-linux-6.1.txt
/// for mtty; i915's layout for GVT-g, docs/kernel/gvt-g.md), plus a fake /proc for VFIO users. Every link is relative, as in sysfs.
/// </summary>
public sealed class SysfsTree
{
    public const string MttyParentDir = "devices/virtual/mtty/mtty";
    public const string GvtPci = "0000:00:02.0";
    public const string GvtParentDir = "devices/pci0000:00/" + GvtPci;

    /// <summary>i915 types as the seed manual lists them; descriptions as kvmgt.c description_show prints them (docs/kernel/gvt-g.md).</summary>
    public static readonly (string Id, long Low, long High, int Fence, string Resolution, int Weight, int Available)[] GvtTypes =
    [
        ("i915-GVTg_V5_1", 512, 2048, 4, "1920x1200", 16, 1),
        ("i915-GVTg_V5_2", 256, 1024, 4, "1920x1200", 8, 2),
        ("i915-GVTg_V5_4", 128, 512, 4, "1920x1200", 4, 4),
        ("i915-GVTg_V5_8", 64, 384, 4, "1024x768", 2, 8),
    ];

    public SysfsTree(string root, string procRoot)
    {
        Root = root;
        ProcRoot = procRoot;
        Directory.CreateDirectory(Path.Combine(root, "class", "mdev_bus"));
        Directory.CreateDirectory(Path.Combine(root, "bus", "mdev", "devices"));
        Directory.CreateDirectory(procRoot);
        // A loaded vfio module: /dev/vfio exists, so VFIO users are looked for.
        DevRoot = Path.Combine(Path.GetDirectoryName(procRoot)!, "dev");
        Directory.CreateDirectory(Path.Combine(DevRoot, "vfio"));
    }

    public string Root { get; }
    public string ProcRoot { get; }
    public string DevRoot { get; }

    public string Full(string relative) => Path.Combine(Root, relative);

    public static string GvtDescription(string id)
    {
        var t = GvtTypes.Single(x => x.Id == id);
        return $"low_gm_size: {t.Low}MB\nhigh_gm_size: {t.High}MB\nfence: {t.Fence}\nresolution: {t.Resolution}\nweight: {t.Weight}\n";
    }

    /// <summary>The mtty sample parent exactly as captured: no driver link, subsystem -> class/mtty, no description files.</summary>
    public SysfsTree WithMttyParent(int mtty1Available = 24, int mtty2Available = 12)
    {
        Link("class/mdev_bus/mtty", "../../devices/virtual/mtty/mtty");
        Dir(MttyParentDir + "/power");
        Dir("class/mtty");
        Link(MttyParentDir + "/subsystem", "../../../../class/mtty");
        File(MttyParentDir + "/uevent", "");
        Type(MttyParentDir, "mtty-1", "Single port serial", null, mtty1Available);
        Type(MttyParentDir, "mtty-2", "Dual port serial", null, mtty2Available);
        Dir("bus/mdev/drivers/mtty");
        return this;
    }

    /// <summary>A device on mtty as captured: driver, iommu_group, mdev_type, remove, subsystem, uevent, vfio-dev/vfioN.</summary>
    public SysfsTree WithMttyDevice(string uuid, string type, int group)
    {
        var dir = $"{MttyParentDir}/{uuid}";
        Dir(dir + "/power");
        Dir(dir + "/vendor");
        Dir($"{dir}/vfio-dev/vfio{group}");
        Link(dir + "/driver", "../../../../../bus/mdev/drivers/mtty");
        Link(dir + "/iommu_group", $"../../../../../kernel/iommu_groups/{group}");
        Link(dir + "/mdev_type", $"../mdev_supported_types/{type}");
        Link(dir + "/subsystem", "../../../../../bus/mdev");
        File(dir + "/remove", "");
        File(dir + "/uevent", "DRIVER=mtty\n");
        Dir($"kernel/iommu_groups/{group}");
        Link($"bus/mdev/devices/{uuid}", $"../../../{dir}");
        Link($"{MttyParentDir}/mdev_supported_types/{type}/devices/{uuid}", $"../../../{uuid}");
        return this;
    }

    /// <summary>An i915 GPU at 0000:00:02.0 bound to i915, with the four GVT-g types.</summary>
    public SysfsTree WithGvtParent()
    {
        Link($"class/mdev_bus/{GvtPci}", $"../../{GvtParentDir}");
        Dir("bus/pci/drivers/i915");
        Link(GvtParentDir + "/driver", "../../../bus/pci/drivers/i915");
        File(GvtParentDir + "/vendor", "0x8086\n");
        foreach (var t in GvtTypes)
            Type(GvtParentDir, t.Id, t.Id["i915-".Length..], GvtDescription(t.Id), t.Available);
        return this;
    }

    public SysfsTree WithGvtDevice(string uuid, string type, int group)
    {
        var dir = $"{GvtParentDir}/{uuid}";
        Dir($"{dir}/vfio-dev/vfio{group}");
        Link(dir + "/mdev_type", $"../mdev_supported_types/{type}");
        Link(dir + "/iommu_group", $"../../../../kernel/iommu_groups/{group}");
        File(dir + "/remove", "");
        Dir($"kernel/iommu_groups/{group}");
        Link($"bus/mdev/devices/{uuid}", $"../../../{dir}");
        return this;
    }

    /// <summary>Makes process <paramref name="pid"/> hold <paramref name="target"/> open as fd <paramref name="fd"/>.</summary>
    public SysfsTree WithOpenFile(int pid, int fd, string target)
    {
        var dir = Path.Combine(ProcRoot, pid.ToString(), "fd");
        Directory.CreateDirectory(dir);
        System.IO.File.CreateSymbolicLink(Path.Combine(dir, fd.ToString()), target);
        return this;
    }

    public void Type(string parentDir, string id, string name, string? description, int available)
    {
        var dir = $"{parentDir}/mdev_supported_types/{id}";
        Dir(dir + "/devices");
        File(dir + "/available_instances", available + "\n");
        File(dir + "/create", "");
        File(dir + "/device_api", "vfio-pci\n");
        File(dir + "/name", name + "\n");
        if (description is not null) File(dir + "/description", description);
    }

    public void Dir(string relative) => Directory.CreateDirectory(Full(relative));

    public void File(string relative, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Full(relative))!);
        System.IO.File.WriteAllText(Full(relative), text);
    }

    public void Link(string relative, string target)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Full(relative))!);
        System.IO.File.CreateSymbolicLink(Full(relative), target);
    }
}
