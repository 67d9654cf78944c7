using Gvtd.Tests.Support;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>AddVGpu and RemoveVGpu: declarations in gvtd's own files, refusals with their error names.</summary>
[Collection(SystemBusCollection.Name)]
public sealed class DeclarationTests(SystemBusFixture bus)
{
    private readonly ManagerTests _m = new(bus);

    [Fact]
    public void AddVGpu_WithEmptyUuid_DeclaresInGvtdsFileCreatesAndSignals()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        using var monitor = _m.Monitor();

        var reply = Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager",
            "AddVGpu", "sssb", "", "i915-GVTg_V5_8", "00:02.0", "false").RootElement;

        var uuid = reply.GetProperty("data")[0].GetString()!;
        var path = reply.GetProperty("data")[1].GetString()!;
        Assert.True(Guid.TryParseExact(uuid, "D", out _));
        Assert.Equal(Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vgpu", uuid), path);
        Assert.Contains(uuid, File.ReadAllText(Path.Combine(gvtd.DropInDir, "dbus.yaml")));
        Assert.DoesNotContain(uuid, File.ReadAllText(gvtd.ConfigPath));
        Assert.Contains(uuid, ManagerTests.Devices(gvtd));
        Assert.Empty(monitor.WaitForAll(HangGuard.Timeout,
            ("InterfacesAdded for the new object", m => ManagerTests.Member(m) == "InterfacesAdded" && m.ToString().Contains(path)),
            ("Manager PropertiesChanged with Desired", m => ManagerTests.Member(m) == "PropertiesChanged"
                && m.GetProperty("path").GetString() == "/org/gvtd/Gvtd1/Manager" && m.ToString().Contains("\"Desired\"")),
            ("ReconcileFinished", m => ManagerTests.Member(m) == "ReconcileFinished")));
        Assert.Equal("active", Busctl.Json(bus.Address, "get-property", "org.gvtd.Gvtd1", path, "org.gvtd.Gvtd1.VGpu", "State").RootElement.GetProperty("data").GetString());
    }

    [Fact]
    public void AddVGpu_Runtime_GoesToTheRuntimeDropIn()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of());

        Busctl.Run(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager",
            "AddVGpu", "sssb", B, "i915-GVTg_V5_8", Parent, "true").EnsureSuccess();

        Assert.Contains(B, File.ReadAllText(Path.Combine(gvtd.RuntimeDir, "vgpus.d", "dbus.yaml")));
        Assert.False(File.Exists(Path.Combine(gvtd.DropInDir, "dbus.yaml")));
        Assert.Contains(B, ManagerTests.Devices(gvtd));
    }

    [Fact]
    public void RemoveVGpu_OfAnAddedOne_RemovesDeviceAndObject()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of());
        Busctl.Run(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager",
            "AddVGpu", "sssb", B, "i915-GVTg_V5_8", Parent, "false").EnsureSuccess();
        var path = Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vgpu", B);
        using var monitor = _m.Monitor();

        Busctl.Run(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "RemoveVGpu", "s", B).EnsureSuccess();

        Assert.DoesNotContain(B, ManagerTests.Devices(gvtd));
        Assert.DoesNotContain(B, File.ReadAllText(Path.Combine(gvtd.DropInDir, "dbus.yaml")));
        Assert.NotNull(monitor.WaitForJson(m => ManagerTests.Member(m) == "InterfacesRemoved" && m.ToString().Contains(path), HangGuard.Timeout));
        Assert.False(Busctl.Run(bus.Address, "get-property", "org.gvtd.Gvtd1", path, "org.gvtd.Gvtd1.VGpu", "State").Success);
    }

    [Fact]
    public void RemoveVGpu_DeclaredInTheUsersFile_IsNotOwnedAndSaysWhereToEdit()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var reply = DbusSend.Manager(bus.Address, "RemoveVGpu", "string:" + A);

        Assert.Equal("org.gvtd.Gvtd1.Error.NotOwned", reply.ErrorName);
        Assert.Contains(gvtd.ConfigPath, reply.ErrorMessage);
        Assert.Contains("line 4", reply.ErrorMessage);
        Assert.Contains(A, ManagerTests.Devices(gvtd));
    }

    [Fact]
    public void RemoveVGpu_Unknown_IsNoSuchVGpu()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var reply = DbusSend.Manager(bus.Address, "RemoveVGpu", "string:" + B);

        Assert.Equal("org.gvtd.Gvtd1.Error.NoSuchVGpu", reply.ErrorName);
    }

    [Fact]
    public void AddVGpu_BeyondCapacity_IsNoCapacityAndDeclaresNothing()
    {
        // The V5_4 and V5_8 take 192 MiB of the 512 MiB low-memory pool; a V5_1 needs 512.
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));

        var reply = DbusSend.Manager(bus.Address, "AddVGpu", "string:", "string:i915-GVTg_V5_1", "string:" + Parent, "boolean:false");

        Assert.Equal("org.gvtd.Gvtd1.Error.NoCapacity", reply.ErrorName);
        Assert.Contains("i915-GVTg_V5_1", reply.ErrorMessage);
        Assert.False(File.Exists(Path.Combine(gvtd.DropInDir, "dbus.yaml")));
    }

    [Theory]
    [InlineData("not-a-uuid", "i915-GVTg_V5_8", "0000:00:02.0")]
    [InlineData("", "../x", "0000:00:02.0")]
    [InlineData("", "i915-GVTg_V5_8", "00:02")]
    [InlineData("", "i915-GVTg_V5_8", "../../devices")]
    [InlineData("", "no-such-type", "0000:00:02.0")]
    public void AddVGpu_WithMalformedArguments_IsInvalidArgsAndDeclaresNothing(string uuid, string type, string parent)
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of());

        var reply = DbusSend.Manager(bus.Address, "AddVGpu", "string:" + uuid, "string:" + type, "string:" + parent, "boolean:false");

        Assert.Equal("org.freedesktop.DBus.Error.InvalidArgs", reply.ErrorName);
        Assert.False(File.Exists(Path.Combine(gvtd.DropInDir, "dbus.yaml")));
        Assert.Empty(ManagerTests.Devices(gvtd));
    }

    [Fact]
    public async Task AddVGpu_TwentyAtOnceWithOneUuid_DeclaresItOnceAndRemoveStillWorks()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of());

        var replies = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() =>
            DbusSend.Manager(bus.Address, "AddVGpu", "string:" + B, "string:i915-GVTg_V5_8", "string:" + Parent, "boolean:false"))));

        Assert.Single(replies, r => r.ErrorName is null);
        Assert.All(replies.Where(r => r.ErrorName is not null), r =>
        {
            Assert.Equal("org.freedesktop.DBus.Error.InvalidArgs", r.ErrorName);
            Assert.Contains("already declared", r.ErrorMessage);
        });
        var dropIn = File.ReadAllText(Path.Combine(gvtd.DropInDir, "dbus.yaml"));
        Assert.Single(dropIn.Split('\n'), line => line.Contains(B));
        Assert.Equal("", _m.Get(gvtd, "ConfigError").GetString());
        Assert.Contains(B, ManagerTests.Devices(gvtd));

        Busctl.Run(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "RemoveVGpu", "s", B).EnsureSuccess();
        Assert.DoesNotContain(B, ManagerTests.Devices(gvtd));
    }

    [Fact]
    public void AddVGpu_WithTheWrongSignature_IsInvalidArgs()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of());

        var reply = DbusSend.Manager(bus.Address, "AddVGpu", "string:i915-GVTg_V5_8");

        Assert.Equal("org.freedesktop.DBus.Error.InvalidArgs", reply.ErrorName);
    }
}
