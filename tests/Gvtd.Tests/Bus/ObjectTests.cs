using Gvtd.Tests.Support;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>The per-vGPU and per-parent objects.</summary>
[Collection(SystemBusCollection.Name)]
public sealed class ObjectTests(SystemBusFixture bus)
{
    [Fact]
    public void VGpu_Properties_DescribeTheDevice()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var path = Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vgpu", A);
        string S(string name) => Get(path, "org.gvtd.Gvtd1.VGpu", name).GetString()!;
        bool B(string name) => Get(path, "org.gvtd.Gvtd1.VGpu", name).GetBoolean();

        var sysfsPath = S("SysfsPath");
        Assert.Equal(A, S("Uuid"));
        Assert.Equal("vm-01", S("Name"));
        Assert.Equal("i915-GVTg_V5_4", S("Type"));
        Assert.Equal(Parent, S("Parent"));
        Assert.Equal("active", S("State"));
        Assert.Equal("", S("LastError"));
        Assert.True(B("Declared"));
        Assert.True(B("Owned"));
        Assert.False(B("InUse"));
        Assert.StartsWith(gvtd.SysfsRoot, sysfsPath);
        Assert.Equal(A, Path.GetFileName(sysfsPath));
        Assert.True(File.Exists(Path.Combine(sysfsPath, "remove")));
        Assert.Equal($"{gvtd.ConfigPath}:4", S("Source"));
        // The simulated parent is GVT-g's (driver i915): QEMU shows the display and the OpRegion.
        Assert.Equal($"-device vfio-pci,sysfsdev={sysfsPath},display=on,x-igd-opregion=on,rombar=0", S("QemuArgs"));
    }

    [Fact]
    public void Parent_Properties_ListTypesWithLiveAvailability()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var path = Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/parent", Parent);

        Assert.Equal(Parent, Get(path, "org.gvtd.Gvtd1.Parent", "Name").GetString());
        Assert.Equal("i915", Get(path, "org.gvtd.Gvtd1.Parent", "Driver").GetString());
        var sysfsPath = Get(path, "org.gvtd.Gvtd1.Parent", "SysfsPath").GetString()!;
        Assert.True(Directory.Exists(Path.Combine(sysfsPath, "mdev_supported_types")));
        var types = Get(path, "org.gvtd.Gvtd1.Parent", "Types").EnumerateArray().ToList();
        var onDisk = Directory.GetDirectories(Path.Combine(sysfsPath, "mdev_supported_types")).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(onDisk, types.Select(t => t[0].GetString()).Order());
        foreach (var type in types)
        {
            var dir = Path.Combine(sysfsPath, "mdev_supported_types", type[0].GetString()!);
            Assert.Equal(File.ReadAllText(Path.Combine(dir, "name")).Trim(), type[1].GetString());
            Assert.Equal("vfio-pci", type[2].GetString());
            Assert.Equal(File.ReadAllText(Path.Combine(dir, "description")).TrimEnd('\n'), type[3].GetString());
            Assert.Equal(uint.Parse(File.ReadAllText(Path.Combine(dir, "available_instances"))), type[4].GetUInt32());
        }
    }

    private System.Text.Json.JsonElement Get(string path, string iface, string name) =>
        Busctl.Json(bus.Address, "get-property", "org.gvtd.Gvtd1", path, iface, name).RootElement.GetProperty("data").Clone();
}
