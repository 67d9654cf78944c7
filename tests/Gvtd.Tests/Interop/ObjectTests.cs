using System.Text.Json;
using Gvtd.Interop;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Interop;

public sealed class ObjectTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly TestService _svc = new();
    private readonly TestBus _bus;

    public ObjectTests()
    {
        _svc.Items["first"] = true;
        _svc.Items["second"] = true;
        _bus = new TestBus(_svc.Export);
    }

    public void Dispose() => _bus.Dispose();

    private BusctlProcess Monitor(string match)
    {
        var mon = Busctl.Start(_bus.Address, ["monitor", $"--match={match}"], json: true);
        Assert.True(mon.WaitForStderr("Monitoring bus message stream.", Wait), "busctl monitor did not start: " + string.Join("\n", mon.StderrLines));
        return mon;
    }

    [Fact]
    public void Properties_are_readable_and_getter_errors_propagate()
    {
        using (var doc = Busctl.Json(_bus.Address, "get-property", TestBus.Service, TestService.Path, TestService.Iface, "Version"))
            Assert.Equal("1.2.3", doc.RootElement.GetProperty("data").GetString());
        using (var doc = Busctl.Json(_bus.Address, "get-property", TestBus.Service, TestService.Path, TestService.Iface, "Mood"))
            Assert.Equal("calm", doc.RootElement.GetProperty("data").GetString());

        var broken = Busctl.Run(_bus.Address, "get-property", TestBus.Service, TestService.Path, TestService.Iface, "Broken");
        Assert.NotEqual(0, broken.ExitCode);
        Assert.Contains("Property is broken.", broken.Stderr);
    }

    [Fact]
    public void PropertiesChanged_carries_the_new_value()
    {
        using var mon = Monitor("type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'");
        Busctl.Run(_bus.Address, "call", TestBus.Service, TestService.Path, TestService.Iface, "SetMood", "s", "happy").EnsureSuccess();

        using var msg = mon.WaitForJson(e => e.GetProperty("member").GetString() == "PropertiesChanged", Wait);
        Assert.NotNull(msg);
        var root = msg!.RootElement;
        Assert.Equal(TestService.Path, root.GetProperty("path").GetString());
        var payload = root.GetProperty("payload");
        Assert.Equal("sa{sv}as", payload.GetProperty("type").GetString());
        Assert.Equal(TestService.Iface, payload.GetProperty("data")[0].GetString());
        var changed = payload.GetProperty("data")[1].GetProperty("Mood");
        Assert.Equal("s", changed.GetProperty("type").GetString());
        Assert.Equal("happy", changed.GetProperty("data").GetString());
    }

    [Fact]
    public void EmitSignal_is_received_with_its_body()
    {
        using var mon = Monitor($"type='signal',interface='{TestService.Iface}'");
        _bus.Server.EmitSignal(TestService.Path, TestService.Iface, "Ping", w => { w.Write("hi"); w.Write(3u); });

        using var msg = mon.WaitForJson(e => e.GetProperty("member").GetString() == "Ping", Wait);
        Assert.NotNull(msg);
        var payload = msg!.RootElement.GetProperty("payload");
        Assert.Equal("su", payload.GetProperty("type").GetString());
        Assert.Equal("hi", payload.GetProperty("data")[0].GetString());
        Assert.Equal(3u, payload.GetProperty("data")[1].GetUInt32());
    }

    [Fact]
    public void Fallback_objects_enumerate_and_are_managed()
    {
        var tree = Busctl.Run(_bus.Address, "tree", "--list", TestBus.Service).EnsureSuccess();
        Assert.Contains("/org/gvtd/Test/items/first", tree.Stdout);
        Assert.Contains("/org/gvtd/Test/items/second", tree.Stdout);

        using var managed = Busctl.Json(_bus.Address, "call", TestBus.Service, TestService.ItemsPrefix, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
        var objects = managed.RootElement.GetProperty("data")[0];
        var first = objects.GetProperty("/org/gvtd/Test/items/first");
        Assert.Equal("first", first.GetProperty(TestService.ItemIface).GetProperty("Id").GetProperty("data").GetString());
        Assert.True(objects.TryGetProperty("/org/gvtd/Test/items/second", out _));

        using var described = Busctl.Json(_bus.Address, "call", TestBus.Service, "/org/gvtd/Test/items/second", TestService.ItemIface, "Describe");
        Assert.Equal("second", described.RootElement.GetProperty("data")[0].GetString());

        var missing = Busctl.Run(_bus.Address, "call", TestBus.Service, "/org/gvtd/Test/items/nope", TestService.ItemIface, "Describe");
        Assert.NotEqual(0, missing.ExitCode);
    }

    [Fact]
    public void EmitObjectAdded_and_Removed_produce_InterfacesAdded_and_Removed()
    {
        using var mon = Monitor("type='signal',interface='org.freedesktop.DBus.ObjectManager'");
        string id = "4c4c4544-0042-3510-8052-b2c04f4d3732";
        string path = BusConnection.EncodePath(TestService.ItemsPrefix, id);
        _svc.Items[id] = true;
        _bus.Server.EmitObjectAdded(path);

        using (var added = mon.WaitForJson(e => e.GetProperty("member").GetString() == "InterfacesAdded", Wait))
        {
            Assert.NotNull(added);
            var data = added!.RootElement.GetProperty("payload").GetProperty("data");
            Assert.Equal(path, data[0].GetString());
            Assert.Equal(id, data[1].GetProperty(TestService.ItemIface).GetProperty("Id").GetProperty("data").GetString());
        }

        _bus.Server.EmitObjectRemoved(path);
        _svc.Items.TryRemove(id, out _);
        using var removed = mon.WaitForJson(e => e.GetProperty("member").GetString() == "InterfacesRemoved", Wait);
        Assert.NotNull(removed);
        var rdata = removed!.RootElement.GetProperty("payload").GetProperty("data");
        Assert.Equal(path, rdata[0].GetString());
        Assert.Contains(rdata[1].EnumerateArray(), e => e.GetString() == TestService.ItemIface);
    }
}
