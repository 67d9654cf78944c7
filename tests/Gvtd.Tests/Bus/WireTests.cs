using System.Text.Json;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>
/// Every kind of message gvtd writes by hand, over a real dbus-daemon: the library does not check a
/// body against its signature, and dbus-daemon drops a sender that sends a malformed one. So each
/// test ends by checking that gvtd still owns its name and answers.
/// </summary>
[Collection(SystemBusCollection.Name)]
public sealed class WireTests(SystemBusFixture bus)
{
    private readonly ManagerTests _m = new(bus);
    private static string VGpuPath(string uuid) => Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vgpu", uuid);
    private static string ParentPath => Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/parent", Parent);

    [Fact]
    public void Signals_ForChangedAddedAndRemovedObjects_CarryTheirValues()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        using var monitor = _m.Monitor();
        const string C = "11111111-2222-3333-4444-555555555503";
        File.WriteAllText(gvtd.ConfigPath, Of((A, "i915-GVTg_V5_4"), (C, "i915-GVTg_V5_4")).Replace("name: vm-01", "name: renamed"));

        Busctl.Run(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "Reload").EnsureSuccess();

        Assert.Empty(monitor.WaitForAll(HangGuard.Timeout,
            ("the vGPU's new Name", m => IsSignal(m, VGpuPath(A), "PropertiesChanged") && Payload(m).Contains("\"renamed\"")),
            ("the parent's Types", m => IsSignal(m, ParentPath, "PropertiesChanged") && Payload(m).Contains("\"Types\"")),
            ("the new vGPU with its properties", m => IsSignal(m, "/org/gvtd/Gvtd1", "InterfacesAdded")
                && Payload(m).Contains(VGpuPath(C)) && Payload(m).Contains("\"QemuArgs\"") && Payload(m).Contains("org.freedesktop.DBus.Properties")),
            ("the dropped vGPU's interfaces", m => IsSignal(m, "/org/gvtd/Gvtd1", "InterfacesRemoved")
                && Payload(m).Contains(VGpuPath(B)) && Payload(m).Contains("org.gvtd.Gvtd1.VGpu")),
            ("the Manager's state", m => IsSignal(m, "/org/gvtd/Gvtd1/Manager", "PropertiesChanged") && Payload(m).Contains("\"State\"")),
            ("ReconcileFinished", m => IsSignal(m, "/org/gvtd/Gvtd1/Manager", "ReconcileFinished"))));
        AssertStillServing(gvtd);
    }

    [Fact]
    public void Introspection_OfEveryNode_ListsChildrenAndInterfaces()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var tree = Busctl.Run(bus.Address, "tree", "--list", "org.gvtd.Gvtd1").EnsureSuccess().Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var root = Busctl.Run(bus.Address, "introspect", "--xml-interface", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1").EnsureSuccess().Stdout;

        Assert.Equal(["/", "/org", "/org/gvtd", "/org/gvtd/Gvtd1", "/org/gvtd/Gvtd1/Manager", "/org/gvtd/Gvtd1/parent", ParentPath,
            "/org/gvtd/Gvtd1/pf", "/org/gvtd/Gvtd1/vf", "/org/gvtd/Gvtd1/vgpu", VGpuPath(A)], tree.Order(StringComparer.Ordinal));
        Assert.Contains("org.freedesktop.DBus.ObjectManager", root);
        AssertStillServing(gvtd);
    }

    [Fact]
    public void GetAll_OfEachObjectKind_ReturnsEveryProperty()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        // As many as the shipped interface description declares.
        var xml = System.Xml.Linq.XDocument.Load(Path.Combine(RepoRoot.Path, "packaging", "dbus", "org.gvtd.Gvtd1.xml"));
        int Declared(string iface) => xml.Descendants("interface").Single(i => (string?)i.Attribute("name") == iface).Elements("property").Count();
        foreach (var (path, iface) in new[] { ("/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager"), (VGpuPath(A), "org.gvtd.Gvtd1.VGpu"), (ParentPath, "org.gvtd.Gvtd1.Parent") })
        {
            var count = Declared(iface);
            Assert.True(count > 0, iface);
            var all = Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", path, "org.freedesktop.DBus.Properties", "GetAll", "s", iface).RootElement;
            Assert.Equal("a{sv}", all.GetProperty("type").GetString());
            Assert.Equal(count, all.GetProperty("data")[0].EnumerateObject().Count());
        }
        AssertStillServing(gvtd);
    }

    [Theory]
    [InlineData("get-property", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "NoSuchProperty", "org.freedesktop.DBus.Error.UnknownProperty")]
    [InlineData("get-property", "/org/gvtd/Gvtd1/Manager", "org.example.Nothing", "State", "org.freedesktop.DBus.Error.UnknownInterface")]
    [InlineData("get-property", "/org/gvtd/Gvtd1/vgpu/nothing", "org.gvtd.Gvtd1.VGpu", "State", "org.freedesktop.DBus.Error.UnknownObject")]
    [InlineData("call", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "Frobnicate", "org.freedesktop.DBus.Error.UnknownMethod")]
    public void Mistakes_GetTheirStandardErrors(string verb, string path, string iface, string member, string error)
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var reply = DbusSend.Call(bus.Address, path, verb == "call" ? $"{iface}.{member}" : "org.freedesktop.DBus.Properties.Get",
            verb == "call" ? [] : ["string:" + iface, "string:" + member]);

        Assert.Equal(error, reply.ErrorName);
        AssertStillServing(gvtd);
    }

    [Fact]
    public void SetProperty_IsReadOnly()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var reply = DbusSend.Call(bus.Address, "/org/gvtd/Gvtd1/Manager", "org.freedesktop.DBus.Properties.Set",
            ["string:org.gvtd.Gvtd1.Manager", "string:State", "variant:string:idle"]);

        Assert.Equal("org.freedesktop.DBus.Error.PropertyReadOnly", reply.ErrorName);
        AssertStillServing(gvtd);
    }

    [Fact]
    public void AHandlerThatFails_AnswersFailedInOneLineAndKeepsTheName()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        // gvtd's own drop-in directory is a file: writing the declaration fails inside the handler.
        File.WriteAllText(gvtd.DropInDir, "not a directory");

        var reply = DbusSend.Manager(bus.Address, "AddVGpu", "string:", "string:i915-GVTg_V5_8", "string:" + Parent, "boolean:false");

        Assert.Equal("org.freedesktop.DBus.Error.Failed", reply.ErrorName);
        Assert.DoesNotContain("\n", reply.ErrorMessage.Trim());
        Assert.DoesNotContain("   at ", reply.ErrorMessage);
        AssertStillServing(gvtd);
    }

    [Fact]
    public void LosingTheBus_StopsGvtdWithStatusOneAndLeavesDevices()
    {
        using var ownBus = DBusDaemon.Start(SystemBusFixture.Config);
        using var gvtd = GvtdProcess.Start(ownBus.Address, Of((A, "i915-GVTg_V5_4")));

        ownBus.Dispose();

        Assert.True(gvtd.WaitForExit(HangGuard.Timeout), $"hang guard: gvtd kept running {HangGuard.Timeout.TotalSeconds} s without its bus");
        Assert.Equal(1, gvtd.ExitCode);
        Assert.Contains("Lost the D-Bus connection", gvtd.Log);
        Assert.Contains(A, ManagerTests.Devices(gvtd));
    }

    private void AssertStillServing(GvtdProcess gvtd)
    {
        Assert.NotEmpty(_m.List(gvtd));
        var owner = Busctl.Json(bus.Address, "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", "org.gvtd.Gvtd1");
        Assert.True(owner.RootElement.GetProperty("data")[0].GetBoolean());
    }

    private static bool IsSignal(JsonElement m, string path, string member) =>
        ManagerTests.Member(m) == member && m.TryGetProperty("path", out var p) && p.GetString() == path;

    private static string Payload(JsonElement m) => m.TryGetProperty("payload", out var p) ? p.ToString() : "";
}
