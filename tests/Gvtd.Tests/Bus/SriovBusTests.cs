using Gvtd.Tests.Support;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>SR-IOV PFs and VFs over the bus, read with busctl as a user would, from gvtd --simulate=gen12.</summary>
[Collection(SystemBusCollection.Name)]
public sealed class SriovBusTests(SystemBusFixture bus)
{
    private const string Declared = "vgpus: []\nsriov:\n  - pf: \"0000:00:02.0\"\n    vfs: 2\n";
    private static readonly string PfPath = Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/pf", Parent);
    private static readonly string VfPath = Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vf", "0000:00:02.2");

    private string Get(string path, string iface, string property) =>
        Busctl.Json(bus.Address, "get-property", "org.gvtd.Gvtd1", path, iface, property).RootElement.GetProperty("data").ToString();

    [Fact]
    public void Declared_vfs_show_as_objects_with_everything_a_vm_needs()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Declared, extraArguments: ["--simulate=gen12"]);

        Assert.Equal("active", Get(PfPath, "org.gvtd.Gvtd1.PhysicalFunction", "State"));
        Assert.Equal("2", Get(PfPath, "org.gvtd.Gvtd1.PhysicalFunction", "NumVfs"));
        Assert.Equal("7", Get(PfPath, "org.gvtd.Gvtd1.PhysicalFunction", "TotalVfs"));
        Assert.Equal("vfio-pci", Get(VfPath, "org.gvtd.Gvtd1.VirtualFunction", "Driver"));
        Assert.Equal("bound", Get(VfPath, "org.gvtd.Gvtd1.VirtualFunction", "State"));
        Assert.Equal("-device vfio-pci,host=0000:00:02.2", Get(VfPath, "org.gvtd.Gvtd1.VirtualFunction", "QemuArgs"));
        Assert.Contains("function='0x2'", Get(VfPath, "org.gvtd.Gvtd1.VirtualFunction", "LibvirtXml"));
        Assert.Equal("1 of 1 SR-IOV PFs as declared", gvtd.Property("StatusText"));

        var list = Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "ListFunctions").RootElement;
        var rows = list.GetProperty("data")[0].EnumerateArray().Select(r => (r[0].GetString(), r[1].GetString(), r[3].GetString())).ToList();
        Assert.Equal([("0000:00:02.0", "", "active"), ("0000:00:02.1", "0000:00:02.0", "bound"), ("0000:00:02.2", "0000:00:02.0", "bound")], rows);

        var plan = Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "PlanFunctions").RootElement;
        var action = Assert.Single(plan.GetProperty("data")[0].EnumerateArray());
        Assert.Equal("keep", action[0].GetString());

        // GetAll gives as many properties as the shipped description declares.
        var xml = System.Xml.Linq.XDocument.Load(Path.Combine(RepoRoot.Path, "packaging", "dbus", "org.gvtd.Gvtd1.xml"));
        foreach (var (path, iface) in new[] { (PfPath, "org.gvtd.Gvtd1.PhysicalFunction"), (VfPath, "org.gvtd.Gvtd1.VirtualFunction") })
        {
            var declared = xml.Descendants("interface").Single(i => (string?)i.Attribute("name") == iface).Elements("property").Count();
            var all = Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", path, "org.freedesktop.DBus.Properties", "GetAll", "s", iface).RootElement;
            Assert.Equal(declared, all.GetProperty("data")[0].EnumerateObject().Count());
        }
    }

    [Fact]
    public void A_count_change_in_the_file_is_applied_and_the_objects_follow()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Declared, extraArguments: ["--simulate=gen12"]);
        File.WriteAllText(Path.Combine(gvtd.Dir, "etc", "vgpus.yaml"), Declared.Replace("vfs: 2", "vfs: 3"));

        gvtd.WaitUntil(() => Busctl.Run(bus.Address, "get-property", "org.gvtd.Gvtd1", PfPath, "org.gvtd.Gvtd1.PhysicalFunction", "NumVfs").Stdout.Trim() == "u 3",
            HangGuard.Timeout);
        Assert.Equal("vfio-pci", Get(Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vf", "0000:00:02.3"), "org.gvtd.Gvtd1.VirtualFunction", "Driver"));
    }
}
