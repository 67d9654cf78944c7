using Gvtd.Bus;
using Gvtd.Contract;
using Gvtd.Reconcile;
using Gvtd.Sysfs;
using Gvtd.Tests.Support;
using Cli = global::Gvtctl.Commands;
using ParentDevice = global::Gvtctl.ParentDevice;
using VGpu = global::Gvtctl.VGpu;

namespace Gvtd.Tests.Contract;

/// <summary>
/// The VM arguments follow the kernel's device_api, read off a sysfs tree laid out as each driver
/// makes it: the mtty sample (vfio-pci), s390's vfio_ap matrix (vfio-ap) and a vfio_ccw subchannel
/// (vfio-ccw). The daemon's QemuArgs property and gvtctl's qemu-args / libvirt-xml are one rule, for
/// a device that exists and for one whose directory is not there yet.
/// </summary>
public sealed class VmArgumentsTests : IDisposable
{
    private const string Present = "6f1c2b1e-0000-4000-8000-00000000000a", NotYet = "6f1c2b1e-0000-4000-8000-00000000000b";
    private readonly TempDir _dir = new();
    private readonly SysfsTree _tree;

    public VmArgumentsTests() => _tree = new SysfsTree(_dir.Combine("sys"), _dir.Combine("proc"));

    public void Dispose() => _dir.Dispose();

    /// <summary>A parent of <paramref name="driver"/> at <paramref name="dir"/> with one type of <paramref name="api"/>, and a device of it.</summary>
    private void Parent(string name, string dir, string driver, string type, string api)
    {
        _tree.Link($"class/mdev_bus/{name}", $"../../{dir}");
        _tree.Dir($"bus/{driver}/drivers/{driver}");
        _tree.Link($"{dir}/driver", $"{string.Concat(Enumerable.Repeat("../", dir.Count(c => c == '/') + 1))}bus/{driver}/drivers/{driver}");
        _tree.Type(dir, type, type, null, 4);
        _tree.File($"{dir}/mdev_supported_types/{type}/device_api", api + "\n");
        _tree.Dir($"{dir}/{Present}");
        _tree.Link($"{dir}/{Present}/mdev_type", $"../mdev_supported_types/{type}");
        _tree.Link($"bus/mdev/devices/{Present}", $"../../../{dir}/{Present}");
    }

    [Theory]
    [InlineData("matrix", "devices/vfio_ap/matrix", "vfio_ap", "vfio_ap-passthrough", "vfio-ap", "vfio-ap,sysfsdev={0}")]
    [InlineData("0.0.0313", "devices/css0/0.0.0313", "vfio_ccw", "vfio_ccw-io", "vfio-ccw", "vfio-ccw,sysfsdev={0}")]
    [InlineData("mtty", "devices/virtual/mtty/mtty", "mtty", "mtty-1", "vfio-pci", "vfio-pci,sysfsdev={0},rombar=0")]
    public void TheDeviceApi_ChoosesTheModel_AndTheDaemonAndGvtctlAgree(string name, string dir, string driver, string type, string api, string expected)
    {
        Parent(name, dir, driver, type, api);
        var observed = new SysfsReader(new SysfsRoot(_tree.Root), new VfioUsers(_tree.ProcRoot, _tree.DevRoot)).Read();
        var parent = observed.Parents[name];
        Assert.Equal(api, parent.FindType(type)!.DeviceApi);
        var present = observed.Devices[Present].SysfsPath;
        var notYet = $"{parent.SysfsPath}/{NotYet}"; // declared, its parent there, the device not created yet

        foreach (var (uuid, sysfs) in new[] { (Present, present), (NotYet, "") })
        {
            var status = new VGpuStatus(uuid, "", type, name, VGpuState.Active, "", true, true, false, sysfs, "");
            var snapshot = StatusSnapshot.Initial with { VGpus = [status], Parents = observed.Parents };
            var property = VGpuObjects.From(snapshot).Single().Item.QemuArgs;
            var vgpu = new VGpu("/v", uuid, "", type, name, "active", false, true, true, "", "", sysfs, property);
            var row = new ParentDevice("/p", name, parent.Driver, parent.SysfsPath,
                [.. parent.Types.Select(t => new MdevTypeRow(t.Id, t.Name, t.DeviceApi, t.Description, (uint)t.AvailableInstances))]);

            var where = uuid == Present ? present : notYet;
            Assert.Equal("-device " + string.Format(expected, where), property);
            Assert.Equal(property, "-device " + Cli.QemuDevice(vgpu, row));
            Assert.StartsWith($"<hostdev mode='subsystem' type='mdev' model='{api}'>", Cli.HostdevXml(vgpu, row));
        }
    }

    [Fact]
    public void AParentNotThereYet_GivesThePciFormAtTheBusLink() =>
        Assert.Equal($"-device vfio-pci,sysfsdev=/sys/bus/mdev/devices/{NotYet},rombar=0",
            VmArguments.QemuArgs(VmArguments.DevicePath(NotYet, "", null), "", ""));

    [Theory]
    [InlineData("vfio-pci", "vfio-pci")]
    [InlineData("vfio-ap", "vfio-ap")]
    [InlineData("vfio-ccw", "vfio-ccw")]
    [InlineData("", "vfio-pci")]
    [InlineData("vfio-pci\nrm -rf", "vfio-pci")] // nothing odd from sysfs reaches a command line
    [InlineData("something", "vfio-pci")]
    public void Model_TakesOnlyAVfioName(string api, string model) => Assert.Equal(model, VmArguments.Model(api));
}
