using Gvtd.Simulation;
using Gvtd.Sysfs;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.Simulation;

/// <summary>The simulator must answer writes the way the capture shows the mdev core does (docs/kernel/mdev-sysfs.md).</summary>
public sealed class SimulatedMdevCoreTests : IDisposable
{
    private const string Gpu = "0000:00:02.0";
    private readonly TempDir _dir = new();
    private readonly SimulatedMdevCore _core;

    public SimulatedMdevCoreTests() => _core = SimulatedMdevCore.Open(_dir.Combine("sys"));

    public void Dispose() => _dir.Dispose();

    private ObservedState Read() => new SysfsReader(_core.Root, new VfioUsers(_dir.Combine("proc"), _dir.Combine("dev"))).Read();

    private string CreateFile(string type) => SysfsRoot.CreateFile(Read().Parents[Gpu].SysfsPath, type);

    private void Create(string uuid, string type) => _core.Write(CreateFile(type), uuid);

    private Errno CreateFails(string uuid, string type) =>
        Assert.Throws<KernelWriteException>(() => Create(uuid, type)).Errno;

    [Fact]
    public void Open_EmptyDirectory_OffersOneGvtParent()
    {
        var observed = Read();

        var parent = Assert.Single(observed.Parents).Value;
        Assert.Equal((Gpu, "i915"), (parent.Name, parent.Driver));
        Assert.All(parent.Types, t => Assert.NotNull(t.Gvt));
        Assert.All(parent.Types, t => Assert.True(t.AvailableInstances > 0));
        Assert.Empty(observed.Devices);
        Assert.Empty(observed.Warnings);
    }

    [Fact]
    public void Write_Create_DeviceAppearsWithThatType()
    {
        Create(U1, "i915-GVTg_V5_4");

        var device = Assert.Single(Read().Devices).Value;
        Assert.Equal((U1, Gpu, "i915-GVTg_V5_4"), (device.Uuid, device.Parent, device.Type));
        Assert.NotNull(device.IommuGroup);
    }

    [Fact]
    public void Write_Create_LowersAvailableInstancesOfEveryType()
    {
        var before = Read().Parents[Gpu].Types.ToDictionary(t => t.Id, t => t.AvailableInstances);

        Create(U1, "i915-GVTg_V5_2");

        var after = Read().Parents[Gpu].Types.ToDictionary(t => t.Id, t => t.AvailableInstances);
        Assert.Equal(before["i915-GVTg_V5_2"] - 1, after["i915-GVTg_V5_2"]);
        Assert.All(before.Keys, id => Assert.True(after[id] < before[id], $"{id}: {before[id]} -> {after[id]}"));
    }

    [Theory]
    [InlineData("i915-GVTg_V5_4")]
    [InlineData("i915-GVTg_V5_8")]
    public void Write_DuplicateUuid_IsEexistOnAnyType(string secondType)
    {
        Create(U1, "i915-GVTg_V5_4");

        Assert.Equal(Errno.EEXIST, CreateFails(U1, secondType));
        Assert.Single(Read().Devices);
    }

    [Theory]
    [InlineData("not-a-uuid")]
    [InlineData("83b8f4f2-509f-382f-3c1e-e6bfe0fa10")]
    [InlineData("{83b8f4f2-509f-382f-3c1e-e6bfe0fa1001}")]
    [InlineData("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\n\n")]
    [InlineData("")]
    public void Write_MalformedUuid_IsEinval(string value)
    {
        Assert.Equal(Errno.EINVAL, CreateFails(value, "i915-GVTg_V5_4"));
        Assert.Empty(Read().Devices);
    }

    [Fact]
    public void Write_NoCapacityLeft_IsEnospc()
    {
        var available = Read().Parents[Gpu].FindType("i915-GVTg_V5_1")!.AvailableInstances;
        for (var i = 0; i < available; i++) Create(Guid.NewGuid().ToString(), "i915-GVTg_V5_1");

        Assert.Equal(0, Read().Parents[Gpu].FindType("i915-GVTg_V5_1")!.AvailableInstances);
        Assert.Equal(Errno.ENOSPC, CreateFails(U1, "i915-GVTg_V5_1"));
    }

    [Fact]
    public void Write_UppercaseUuid_AppearsLowercase()
    {
        Create(U1.ToUpperInvariant(), "i915-GVTg_V5_8");

        Assert.Equal([U1], Read().Devices.Keys);
    }

    [Fact]
    public void Write_UuidWithTrailingNewline_IsAccepted()
    {
        Create(U1 + "\n", "i915-GVTg_V5_8");

        Assert.Equal([U1], Read().Devices.Keys);
    }

    [Fact]
    public void Write_RemoveOne_RemovesDeviceAndFreesCapacity()
    {
        var before = Read().Parents[Gpu].FindType("i915-GVTg_V5_4")!.AvailableInstances;
        Create(U1, "i915-GVTg_V5_4");

        _core.Write(SysfsRoot.RemoveFile(Read().Devices[U1].SysfsPath), "1\n");

        var after = Read();
        Assert.Empty(after.Devices);
        Assert.Equal(before, after.Parents[Gpu].FindType("i915-GVTg_V5_4")!.AvailableInstances);
    }

    [Fact]
    public void Write_RemoveZero_DoesNothing()
    {
        Create(U1, "i915-GVTg_V5_4");

        _core.Write(SysfsRoot.RemoveFile(Read().Devices[U1].SysfsPath), "0\n");

        Assert.Equal([U1], Read().Devices.Keys);
    }

    [Fact]
    public void Write_RemoveGarbage_IsEinval()
    {
        Create(U1, "i915-GVTg_V5_4");
        var remove = SysfsRoot.RemoveFile(Read().Devices[U1].SysfsPath);

        Assert.Equal(Errno.EINVAL, Assert.Throws<KernelWriteException>(() => _core.Write(remove, "yes")).Errno);
        Assert.Equal([U1], Read().Devices.Keys);
    }

    [Fact]
    public void Open_ExistingSimulatedTree_KeepsItsDevices()
    {
        Create(U1, "i915-GVTg_V5_4");
        var availableBefore = Read().Parents[Gpu].Types.Select(t => t.AvailableInstances).ToList();

        var reopened = SimulatedMdevCore.Open(_dir.Combine("sys"));
        var observed = new SysfsReader(reopened.Root, new VfioUsers(_dir.Combine("proc"), _dir.Combine("dev"))).Read();

        Assert.Equal("i915-GVTg_V5_4", observed.Devices[U1].Type);
        Assert.Equal(availableBefore, observed.Parents[Gpu].Types.Select(t => t.AvailableInstances));
        // The reopened core knows the device: a duplicate is refused, and it can remove it.
        Assert.Equal(Errno.EEXIST, Assert.Throws<KernelWriteException>(
            () => reopened.Write(SysfsRoot.CreateFile(observed.Parents[Gpu].SysfsPath, "i915-GVTg_V5_8"), U1)).Errno);
        reopened.Write(SysfsRoot.RemoveFile(observed.Devices[U1].SysfsPath), "1");
        Assert.Empty(new SysfsReader(reopened.Root, new VfioUsers(_dir.Combine("proc"), _dir.Combine("dev"))).Read().Devices);
    }

    [Fact]
    public void Open_NonEmptyForeignDirectory_IsRefused()
    {
        _dir.Write("foreign/important.txt", "keep me");

        Assert.Throws<InvalidOperationException>(() => SimulatedMdevCore.Open(_dir.Combine("foreign")));
        Assert.Equal(["important.txt"], Directory.GetFileSystemEntries(_dir.Combine("foreign")).Select(Path.GetFileName));
    }
}
