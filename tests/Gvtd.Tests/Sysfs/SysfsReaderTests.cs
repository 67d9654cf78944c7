using Gvtd.Contract;
using Gvtd.Sysfs;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.Sysfs;

public sealed class SysfsReaderTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly SysfsTree _tree;

    public SysfsReaderTests() => _tree = new SysfsTree(_dir.Combine("sys"), _dir.Combine("proc"));

    public void Dispose() => _dir.Dispose();

    private ObservedState Read() => new SysfsReader(new SysfsRoot(_tree.Root), new VfioUsers(_tree.ProcRoot, _tree.DevRoot)).Read();

    [Fact]
    public void Read_MttyReferenceLayout_FindsParentAndTypes()
    {
        _tree.WithMttyParent();

        var observed = Read();

        var parent = Assert.Single(observed.Parents).Value;
        Assert.Equal("mtty", parent.Name);
        Assert.Equal(_tree.Full(SysfsTree.MttyParentDir), parent.SysfsPath);
        Assert.Equal("mtty", parent.Driver); // no driver link: the subsystem (class/mtty) names it
        Assert.Equal(["mtty-1", "mtty-2"], parent.Types.Select(t => t.Id));
        Assert.Equal(("Single port serial", 24, "vfio-pci", ""), Summary(parent.FindType("mtty-1")!));
        Assert.Equal(("Dual port serial", 12, "vfio-pci", ""), Summary(parent.FindType("mtty-2")!));
        Assert.All(parent.Types, t => Assert.Null(t.Gvt));
        Assert.Empty(observed.Devices);
        Assert.Empty(observed.Warnings);
    }

    [Fact]
    public void Read_MttyReferenceDevices_GivesParentTypeAndIommuGroup()
    {
        // The capture after three creates: 1001 as mtty-2, 1002 and 1003 as mtty-1.
        _tree.WithMttyParent(20, 10).WithMttyDevice(U1, "mtty-2", 0).WithMttyDevice(U2, "mtty-1", 1).WithMttyDevice(U3, "mtty-1", 2);

        var observed = Read();

        Assert.Equal([U1, U2, U3], observed.Devices.Keys.Order());
        Assert.Equal(new MdevDevice(U1, "mtty", "mtty-2", _tree.Full($"{SysfsTree.MttyParentDir}/{U1}"), 0, DeviceUse.Free), observed.Devices[U1]);
        Assert.Equal(("mtty", "mtty-1", 1), (observed.Devices[U2].Parent, observed.Devices[U2].Type, observed.Devices[U2].IommuGroup));
        Assert.Equal(("mtty", "mtty-1", 2), (observed.Devices[U3].Parent, observed.Devices[U3].Type, observed.Devices[U3].IommuGroup));
        Assert.Equal([20, 10], observed.Parents["mtty"].Types.Select(t => t.AvailableInstances));
        Assert.Empty(observed.Warnings);
    }

    [Fact]
    public void Read_GvtLayout_FindsI915ParentWithParsedDescriptions()
    {
        _tree.WithGvtParent().WithGvtDevice(U1, "i915-GVTg_V5_4", 3);

        var observed = Read();

        var parent = observed.Parents[SysfsTree.GvtPci];
        Assert.Equal("i915", parent.Driver);
        Assert.Equal(_tree.Full(SysfsTree.GvtParentDir), parent.SysfsPath);
        Assert.Equal(SysfsTree.GvtTypes.Select(t => t.Id), parent.Types.Select(t => t.Id));
        foreach (var expected in SysfsTree.GvtTypes)
        {
            var type = parent.FindType(expected.Id)!;
            Assert.Equal(expected.Available, type.AvailableInstances);
            Assert.Equal(SysfsTree.GvtDescription(expected.Id).TrimEnd('\n'), type.Description);
            Assert.Equal(new GvtDescription(expected.Low, expected.High, expected.Fence, expected.Resolution, expected.Weight), type.Gvt);
        }
        var device = observed.Devices[U1];
        Assert.Equal((SysfsTree.GvtPci, "i915-GVTg_V5_4", 3, false), (device.Parent, device.Type, device.IommuGroup, device.InUse));
        Assert.Empty(observed.Warnings);
    }

    [Fact]
    public void Read_ProcessHoldsIommuGroup_MarksOnlyThatDeviceInUse()
    {
        _tree.WithMttyParent().WithMttyDevice(U1, "mtty-2", 0).WithMttyDevice(U2, "mtty-1", 1)
            // QEMU as captured: container, group, device fd.
            .WithOpenFile(1234, 3, "/dev/vfio/vfio").WithOpenFile(1234, 4, "/dev/vfio/0").WithOpenFile(1234, 5, "anon_inode:[vfio-device]");

        var observed = Read();

        Assert.True(observed.Devices[U1].InUse);
        Assert.False(observed.Devices[U2].InUse);
    }

    [Fact]
    public void Read_ProcessHoldsIommufdDeviceNode_MarksThatDeviceInUse()
    {
        _tree.WithMttyParent().WithMttyDevice(U1, "mtty-2", 0).WithMttyDevice(U2, "mtty-1", 1)
            .WithOpenFile(1234, 5, "/dev/vfio/devices/vfio1");

        var observed = Read();

        Assert.False(observed.Devices[U1].InUse);
        Assert.True(observed.Devices[U2].InUse);
    }

    [Fact]
    public void Read_OnlyContainerAndOtherFilesOpen_NothingInUse()
    {
        _tree.WithMttyParent().WithMttyDevice(U1, "mtty-2", 0)
            .WithOpenFile(1, 0, "/dev/null").WithOpenFile(77, 3, "/dev/vfio/vfio");
        Directory.CreateDirectory(Path.Combine(_tree.ProcRoot, "self"));
        Directory.CreateDirectory(Path.Combine(_tree.ProcRoot, "sys"));

        Assert.False(Read().Devices[U1].InUse);
    }

    [Fact]
    public void Read_MissingProcRoot_IsNotAnError_ButUseIsUnknown()
    {
        // No /proc in sight: gvtd cannot see who holds what, which is not "nobody does".
        _tree.WithMttyParent().WithMttyDevice(U1, "mtty-2", 0);
        Directory.Delete(_tree.ProcRoot);

        Assert.Equal(DeviceUse.Unknown, Read().Devices[U1].Use);
        Assert.True(Read().Devices[U1].InUse);
    }

    [Fact]
    public void Read_NonNumericAvailableInstances_IsAWarningAndZero()
    {
        _tree.WithMttyParent();
        _tree.File($"{SysfsTree.MttyParentDir}/mdev_supported_types/mtty-1/available_instances", "lots\n");

        var observed = Read();

        Assert.Equal(0, observed.Parents["mtty"].FindType("mtty-1")!.AvailableInstances);
        Assert.Equal(12, observed.Parents["mtty"].FindType("mtty-2")!.AvailableInstances);
        Assert.Contains(observed.Warnings, w => w.Contains("mtty-1") && w.Contains("lots"));
    }

    [Fact]
    public void Read_DeviceWithoutMdevType_IsAWarningNotADevice()
    {
        _tree.WithMttyParent().WithMttyDevice(U1, "mtty-2", 0).WithMttyDevice(U2, "mtty-1", 1);
        File.Delete(_tree.Full($"{SysfsTree.MttyParentDir}/{U1}/mdev_type"));

        var observed = Read();

        Assert.False(observed.Devices.ContainsKey(U1));
        Assert.True(observed.Devices.ContainsKey(U2));
        Assert.Contains(observed.Warnings, w => w.Contains(U1));
    }

    [Fact]
    public void Read_DanglingDeviceLink_IsAWarningNotADevice()
    {
        _tree.WithMttyParent().WithMttyDevice(U2, "mtty-1", 1);
        _tree.Link($"bus/mdev/devices/{U1}", $"../../../{SysfsTree.MttyParentDir}/{U1}");

        var observed = Read();

        Assert.Equal([U2], observed.Devices.Keys);
        Assert.Contains(observed.Warnings, w => w.Contains(U1));
    }

    [Fact]
    public void Read_DanglingParentLink_IsAWarningAndOtherParentsStillRead()
    {
        _tree.WithGvtParent();
        _tree.Link("class/mdev_bus/gone", "../../devices/virtual/gone/gone");

        var observed = Read();

        Assert.Equal([SysfsTree.GvtPci], observed.Parents.Keys);
        Assert.Contains(observed.Warnings, w => w.Contains("gone"));
    }

    [Fact]
    public void Read_DeviceWithoutIommuGroup_IsStillSeen()
    {
        // Emulated-IOMMU devices have no iommu_group link when the kernel has no VFIO group support.
        _tree.WithMttyParent().WithMttyDevice(U1, "mtty-2", 0);
        File.Delete(_tree.Full($"{SysfsTree.MttyParentDir}/{U1}/iommu_group"));

        var device = Read().Devices[U1];

        Assert.Equal(("mtty-2", (int?)null), (device.Type, device.IommuGroup));
    }

    [Fact]
    public void Read_MissingRoot_IsEmptyWithoutException()
    {
        var observed = new SysfsReader(new SysfsRoot(_dir.Combine("nothing")), new VfioUsers(_dir.Combine("noproc"), _dir.Combine("nodev"))).Read();

        Assert.Empty(observed.Parents);
        Assert.Empty(observed.Devices);
    }

    private static (string, int, string, string) Summary(MdevType t) => (t.Name, t.AvailableInstances, t.DeviceApi, t.Description);

    [Fact]
    public void Read_ADevicesDirectoryThatCannotBeListed_IsBlind_NotEmpty()
    {
        _tree.WithMttyParent().WithMttyDevice(U1, "mtty-1", 0);
        // Something listing cannot read (ENOTDIR here; EACCES or EIO on a real host).
        var devices = _tree.Full("bus/mdev/devices");
        Directory.Delete(devices, recursive: true);
        System.IO.File.WriteAllText(devices, "");

        var observed = Read();

        Assert.NotNull(observed.Blind);
        Assert.Contains("bus/mdev/devices", observed.Blind);
        Assert.True(observed.MayExist(U1));
        Assert.True(observed.MayExist(U2)); // blind: anything may exist
    }

    [Fact]
    public void Read_NoMdevBusAtAll_IsEmpty_NotBlind()
    {
        _tree.WithMttyParent();
        Directory.Delete(_tree.Full("bus/mdev"), recursive: true); // the mdev core is not loaded

        var observed = Read();

        Assert.Null(observed.Blind);
        Assert.Empty(observed.Devices);
        Assert.False(observed.MayExist(U1));
    }

    [Fact]
    public void Read_ADeviceListedButUnreadable_StaysAsOneThatMayExist()
    {
        _tree.WithMttyParent().WithMttyDevice(U1, "mtty-1", 0).WithMttyDevice(U2, "mtty-1", 1);
        // The bus link points at an entry that cannot be followed (a loop of links).
        var link = _tree.Full($"bus/mdev/devices/{U2}");
        System.IO.File.Delete(link);
        System.IO.File.CreateSymbolicLink(link, U2);

        var observed = Read();

        Assert.Equal([U1], observed.Devices.Keys);
        Assert.Contains(U2, observed.Unreadable);
        Assert.True(observed.MayExist(U2));
        Assert.Contains(observed.Warnings, w => w.Contains($"cannot read device {U2}"));
    }

    [Fact]
    public void Read_AVfioDevDirectoryThatCannotBeListed_MakesTheUseUnknown()
    {
        _tree.WithMttyParent().WithMttyDevice(U1, "mtty-1", 0);
        var vfioDev = _tree.Full($"{SysfsTree.MttyParentDir}/{U1}/vfio-dev");
        Directory.Delete(vfioDev, recursive: true);
        System.IO.File.WriteAllText(vfioDev, "");

        Assert.Equal(DeviceUse.Unknown, Read().Devices[U1].Use);
    }

    [Fact]
    public void Read_AProcessFdDirectoryThatCannotBeRead_MakesTheUseUnknown_WhileAGoneProcessDoesNot()
    {
        _tree.WithMttyParent().WithMttyDevice(U1, "mtty-1", 0);
        Directory.CreateDirectory(Path.Combine(_tree.ProcRoot, "77"));
        Assert.Equal(DeviceUse.Free, Read().Devices[U1].Use); // no fd directory: the process is gone

        System.IO.File.WriteAllText(Path.Combine(_tree.ProcRoot, "77", "fd"), ""); // there, but not readable as one

        Assert.Equal(DeviceUse.Unknown, Read().Devices[U1].Use);
    }

    [Theory]
    [InlineData(2, "Gone")]    // ENOENT: the process or the fd went
    [InlineData(3, "Gone")]    // ESRCH
    [InlineData(13, "Unreadable")] // EACCES: no CAP_SYS_PTRACE
    [InlineData(1, "Unreadable")]  // EPERM
    [InlineData(5, "Unreadable")]  // EIO
    [InlineData(24, "Unreadable")] // EMFILE: gvtd itself ran out of descriptors
    [InlineData(12, "Unreadable")] // ENOMEM
    [InlineData(20, "Unreadable")] // ENOTDIR
    public void EveryFdScanError_ButAGoneProcess_MeansUnknown(int errno, string meaning) =>
        Assert.Equal(meaning, Gvtd.Interop.LinkDirectory.Classify(errno).ToString());
}
