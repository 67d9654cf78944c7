using System.Text.Json;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>The Manager's methods and properties, through busctl and dbus-send, against the real daemon.</summary>
[Collection(SystemBusCollection.Name)]
public sealed class ManagerTests(SystemBusFixture bus)
{
    private const string Manager = "/org/gvtd/Gvtd1/Manager";
    private const string Iface = "org.gvtd.Gvtd1.Manager";

    [Fact]
    public void Properties_AfterFirstPass_DescribeDaemonAndDesiredState()
    {
        var interval = TimeSpan.FromHours(1);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        var before = DateTimeOffset.UtcNow;

        Assert.Equal(Gvtd.Program.Version, Get(gvtd, "Version").GetString());
        gvtd.WaitUntilIdle();
        Assert.Equal("", Get(gvtd, "ConfigError").GetString());
        Assert.Equal([gvtd.ConfigPath], Get(gvtd, "ConfigFiles").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal((ulong)(interval.Ticks / TimeSpan.TicksPerMicrosecond), Get(gvtd, "Interval").GetUInt64());
        Assert.Equal("owned", Get(gvtd, "Prune").GetString());
        var last = DateTimeOffset.UnixEpoch.AddTicks((long)Get(gvtd, "LastReconcile").GetUInt64() * TimeSpan.TicksPerMicrosecond);
        Assert.InRange(last, before.AddMinutes(-2), DateTimeOffset.UtcNow);
        Assert.Equal(2u, Get(gvtd, "Desired").GetUInt32());
        Assert.Equal(2u, Get(gvtd, "Active").GetUInt32());
        Assert.Equal(0u, Get(gvtd, "Failed").GetUInt32());
    }

    [Fact]
    public void Reconcile_WhenAllIsInPlace_ReturnsZeroCountsAndEmitsReconcileFinished()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        using var monitor = Monitor();
        var lastBefore = Get(gvtd, "LastReconcile").GetUInt64();

        var reply = Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", Manager, Iface, "Reconcile");

        Assert.Equal("uuu", reply.RootElement.GetProperty("type").GetString());
        Assert.Equal([0u, 0u, 0u], reply.RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetUInt32()));
        var signal = monitor.WaitForJson(m => Member(m) == "ReconcileFinished", HangGuard.Timeout);
        Assert.NotNull(signal);
        Assert.Equal([0u, 0u, 0u], signal!.RootElement.GetProperty("payload").GetProperty("data").EnumerateArray().Select(e => e.GetUInt32()));
        // The call ran a pass of its own, after the value read before it: a later time, strictly.
        var lastAfter = Get(gvtd, "LastReconcile").GetUInt64();
        Assert.True(lastAfter > lastBefore, $"LastReconcile {lastAfter} after the call, {lastBefore} before it");
    }

    [Fact]
    public void Reload_WithValidChange_CreatesTheNewDevice()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        File.WriteAllText(gvtd.ConfigPath, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));

        Busctl.Run(bus.Address, "call", "org.gvtd.Gvtd1", Manager, Iface, "Reload").EnsureSuccess();

        Assert.True(Directory.Exists(Path.Combine(gvtd.SysfsRoot, "bus", "mdev", "devices", B)));
        Assert.Equal(2u, Get(gvtd, "Active").GetUInt32());
    }

    [Fact]
    public void Reload_WithBrokenFile_FailsWithInvalidConfigNamingTheSpotAndChangesNothing()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var devicesBefore = Devices(gvtd);
        // Line 5, column 5: an unknown key in the only vGPU, and the other vGPU dropped.
        File.WriteAllText(gvtd.ConfigPath, $"vgpus:\n  - uuid: {B}\n    type: i915-GVTg_V5_8\n    parent: \"{Parent}\"\n    colour: blue\n");

        var reply = DbusSend.Manager(bus.Address, "Reload");

        Assert.Equal("org.gvtd.Gvtd1.Error.InvalidConfig", reply.ErrorName);
        Assert.Contains($"{gvtd.ConfigPath}:5:5", reply.ErrorMessage);
        Assert.Contains($"{gvtd.ConfigPath}:5:5", Get(gvtd, "ConfigError").GetString());
        Assert.Equal("degraded", Get(gvtd, "State").GetString());
        Assert.Equal(devicesBefore, Devices(gvtd));
        Assert.Equal([A], List(gvtd).Select(v => v[0].GetString()!));
    }

    [Fact]
    public void Plan_ShowsWhatTheNextPassWouldDoWithReasons()
    {
        const string absentParent = "0000:00:03.0";
        var yaml = Of((A, "i915-GVTg_V5_4")) + $"  - uuid: {B}\n    type: i915-GVTg_V5_8\n    parent: \"{absentParent}\"\n";
        using var gvtd = GvtdProcess.Start(bus.Address, yaml);

        var plan = Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", Manager, Iface, "Plan").RootElement;

        Assert.Equal("a(sssss)", plan.GetProperty("type").GetString());
        var rows = plan.GetProperty("data")[0].EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetString()!).ToArray()).ToList();
        Assert.Contains(rows, r => r[0] == "keep" && r[1] == A && r[2] == "i915-GVTg_V5_4" && r[3] == Parent);
        var blocked = Assert.Single(rows, r => r[1] == B);
        Assert.Equal(["blocked", B, "i915-GVTg_V5_8", absentParent], blocked[..4]);
        Assert.Contains(absentParent, blocked[4]);
        Assert.All(rows, r => Assert.NotEmpty(r[4]));
    }

    [Fact]
    public void Plan_BeyondTheSharedPool_IsBlockedBeforeAnyWriteAndSaysWhy()
    {
        // Each type alone has room, but GVT-g carves both out of one pool, which the first one
        // fills: gvtd plans only that one, and never asks the kernel for the second.
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_1"), (B, "i915-GVTg_V5_2")));

        var plan = Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", Manager, Iface, "Plan").RootElement
            .GetProperty("data")[0].EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetString()!).ToArray()).ToList();

        var blocked = Assert.Single(plan, r => r[0] != "keep");
        Assert.Equal(["blocked", B], blocked[..2]);
        Assert.Contains("no capacity left", blocked[4]);
        Assert.Equal(0u, Get(gvtd, "Failed").GetUInt32());
        // The first pass made A and did not try B: no kernel refusal, nothing failed.
        gvtd.WaitForLog("created 1, removed 0, failed 0");
        Assert.DoesNotContain("Failed to create", gvtd.Log);
    }

    [Fact]
    public void ListVGpus_ListsEachWithStateNameAndAnObjectThatExists()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));

        var rows = List(gvtd);

        Assert.Equal([A, B], rows.Select(r => r[0].GetString()!).Order());
        foreach (var row in rows)
        {
            Assert.Equal(Parent, row[2].GetString());
            Assert.Equal("active", row[3].GetString());
            Assert.Equal("vm-" + row[0].GetString()![^2..], row[4].GetString());
            var path = row[5].GetString()!;
            Assert.Equal(row[0].GetString(), Busctl.Json(bus.Address, "get-property", "org.gvtd.Gvtd1", path, "org.gvtd.Gvtd1.VGpu", "Uuid").RootElement.GetProperty("data").GetString());
        }
    }

    [Fact]
    public void ObjectManager_ListsManagerVGpusAndParents()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var objects = Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
            .RootElement.GetProperty("data")[0];

        var paths = objects.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        Assert.True(paths[Manager].TryGetProperty(Iface, out _));
        Assert.True(paths[Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vgpu", A)].TryGetProperty("org.gvtd.Gvtd1.VGpu", out _));
        Assert.True(paths[Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/parent", Parent)].TryGetProperty("org.gvtd.Gvtd1.Parent", out _));
    }

    internal JsonElement Get(GvtdProcess gvtd, string property) =>
        Busctl.Json(bus.Address, "get-property", "org.gvtd.Gvtd1", Manager, Iface, property).RootElement.GetProperty("data").Clone();

    internal List<JsonElement[]> List(GvtdProcess gvtd) =>
        Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", Manager, Iface, "ListVGpus").RootElement
            .GetProperty("data")[0].EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.Clone()).ToArray()).ToList();

    internal BusctlProcess Monitor()
    {
        var monitor = Busctl.Start(bus.Address, ["monitor", "org.gvtd.Gvtd1"], json: true);
        Assert.True(monitor.WaitForStderr("Monitoring", HangGuard.Timeout), "hang guard: busctl monitor did not start");
        return monitor;
    }

    internal static string? Member(JsonElement message) => message.TryGetProperty("member", out var m) ? m.GetString() : null;

    internal static string[] Devices(GvtdProcess gvtd) =>
        Directory.GetFileSystemEntries(Path.Combine(gvtd.SysfsRoot, "bus", "mdev", "devices")).Select(Path.GetFileName).Order().ToArray()!;
}
