using System.Xml.Linq;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>
/// The shipped interface description (packaging/dbus/org.gvtd.Gvtd1.xml) must say exactly what the
/// running daemon serves: code generators and desktop tools are built from that file.
/// </summary>
[Collection(SystemBusCollection.Name)]
public sealed class IntrospectionTests(SystemBusFixture bus)
{
    [Fact]
    public void LiveInterfaces_MatchTheShippedDescription()
    {
        var shipped = XDocument.Load(Path.Combine(RepoRoot.Path, "packaging", "dbus", "org.gvtd.Gvtd1.xml"));
        var objects = new Dictionary<string, string>
        {
            ["org.gvtd.Gvtd1.Manager"] = "/org/gvtd/Gvtd1/Manager",
            ["org.gvtd.Gvtd1.VGpu"] = Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vgpu", A),
            ["org.gvtd.Gvtd1.Parent"] = Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/parent", Parent),
        };
        var sriovObjects = new Dictionary<string, string>
        {
            ["org.gvtd.Gvtd1.PhysicalFunction"] = Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/pf", Parent),
            ["org.gvtd.Gvtd1.VirtualFunction"] = Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vf", "0000:00:02.1"),
        };

        Assert.Equal(objects.Keys.Concat(sriovObjects.Keys).Order(), shipped.Descendants("interface").Select(i => (string)i.Attribute("name")!).Order());
        using (var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"))))
            AssertShapes(shipped, objects);
        using (var gen12 = GvtdProcess.Start(bus.Address, $"vgpus: []\nsriov:\n  - pf: \"{Parent}\"\n    vfs: 2\n", extraArguments: ["--simulate=gen12"]))
            AssertShapes(shipped, sriovObjects);
    }

    private void AssertShapes(XDocument shipped, Dictionary<string, string> objects)
    {
        foreach (var (name, path) in objects)
        {
            var xml = Busctl.Run(bus.Address, "introspect", "--xml-interface", "org.gvtd.Gvtd1", path).EnsureSuccess().Stdout;
            var live = XDocument.Parse(xml).Descendants("interface").Single(i => (string)i.Attribute("name")! == name);
            Assert.Equal(Shape(shipped.Descendants("interface").Single(i => (string)i.Attribute("name")! == name)), Shape(live));
        }
    }

    /// <summary>Members, argument names and types, property types and annotations; no comments or layout.</summary>
    private static string[] Shape(XElement iface) =>
        iface.Elements().Select(member => string.Join(" ",
            [member.Name.LocalName, (string?)member.Attribute("name") ?? "", (string?)member.Attribute("type") ?? "", (string?)member.Attribute("access") ?? "",
             .. member.Elements().Select(e => string.Join(":", e.Name.LocalName, (string?)e.Attribute("name"), (string?)e.Attribute("type"),
                 (string?)e.Attribute("direction"), (string?)e.Attribute("value")))])).ToArray();
}
