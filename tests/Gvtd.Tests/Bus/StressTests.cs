using Gvtd.DesiredState;
using Gvtd.Ownership;
using Gvtd.Tests.Support;
using Tmds.DBus.Protocol;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>The daemon under load, under nonsense, and killed at random moments.</summary>
[Collection(SystemBusCollection.Name)]
public sealed class StressTests(SystemBusFixture bus)
{
    private readonly ManagerTests _m = new(bus);

    [Fact]
    public async Task PublishedState_NeverGoesBackwards_UnderConcurrentPassesAndSleepTransitions()
    {
        using var logind = new FakeLogind(bus.Address);
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        gvtd.WaitUntil(() => gvtd.Property("SleepInhibitor") == "True", HangGuard.Timeout);
        using var monitor = _m.Monitor();

        // Passes from the worker's thread and sleep states from the coordinator's, interleaved.
        var passes = Task.Run(() =>
        {
            for (var i = 0; i < 40; i++) DbusSend.Manager(bus.Address, i % 2 == 0 ? "Reconcile" : "Reload");
        });
        for (var i = 0; i < 15; i++)
        {
            // Each transition waits for the one before to be published, not for a fixed time.
            logind.PrepareForSleep(true);
            gvtd.WaitUntil(() => gvtd.Property("SleepState") == "asleep", HangGuard.Timeout);
            logind.PrepareForSleep(false);
            gvtd.WaitUntil(() => gvtd.Property("SleepState") == "awake", HangGuard.Timeout);
        }
        await passes;
        gvtd.WaitUntil(() => gvtd.Property("SleepState") == "awake", HangGuard.Timeout);
        var last = ulong.Parse(gvtd.Property("Generation")!);
        Assert.NotNull(monitor.WaitForJson(m => Generation(m) == last, HangGuard.Timeout));

        // Every change of the Manager carries its number, in the order it was sent.
        var seen = monitor.StdoutLines.Select(l => Generation(System.Text.Json.JsonDocument.Parse(l).RootElement)).OfType<ulong>().ToList();
        Assert.True(seen.Count > 40, $"only {seen.Count} Manager changes were seen");
        var backwards = seen.Zip(seen.Skip(1)).Where(p => p.Second <= p.First).ToList();
        Assert.True(backwards.Count == 0, $"published out of order: {string.Join(", ", backwards.Take(5).Select(p => $"{p.First} then {p.Second}"))}");
        Assert.Equal(last, seen[^1]);
    }

    /// <summary>The Generation a Manager PropertiesChanged carries, from busctl monitor's JSON; null for any other message.</summary>
    private static ulong? Generation(System.Text.Json.JsonElement m) =>
        ManagerTests.Member(m) == "PropertiesChanged" && m.TryGetProperty("path", out var path) && path.GetString() == "/org/gvtd/Gvtd1/Manager"
            && m.GetProperty("payload").GetProperty("data")[1].TryGetProperty("Generation", out var g)
            ? g.GetProperty("data").GetUInt64() : null;

    [Fact]
    public async Task ManyClients_WhilePassesAndReloadsRun_AreAllAnswered()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        using var stop = new CancellationTokenSource();
        var churn = Task.Run(() =>
        {
            // Passes and reloads back to back, changing the state each time.
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                File.WriteAllText(gvtd.ConfigPath, i % 2 == 0 ? Of((A, "i915-GVTg_V5_4")) : Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
                DbusSend.Manager(bus.Address, i % 3 == 0 ? "Reconcile" : "Reload");
            }
        });

        var answered = await Task.WhenAll(Enumerable.Range(0, 4).Select(async client =>
        {
            using var connection = new DBusConnection(new DBusConnectionOptions(bus.Address) { AutoConnect = false });
            await connection.ConnectAsync();
            var count = 0;
            for (var i = 0; i < 300; i++)
            {
                var (iface, member, signature) = ((i + client) % 4) switch
                {
                    0 => ("org.gvtd.Gvtd1.Manager", "ListVGpus", ""),
                    1 => ("org.gvtd.Gvtd1.Manager", "Plan", ""),
                    2 => ("org.freedesktop.DBus.Properties", "GetAll", "s"),
                    _ => ("org.freedesktop.DBus.ObjectManager", "GetManagedObjects", ""),
                };
                var path = member == "GetManagedObjects" ? "/org/gvtd/Gvtd1" : "/org/gvtd/Gvtd1/Manager";
                await connection.CallMethodAsync(Call(connection, path, iface, member, signature, (ref MessageWriter w) => w.WriteString("org.gvtd.Gvtd1.Manager")))
                    .WaitAsync(HangGuard.Timeout);
                count++;
            }
            return count;
        }));
        await stop.CancelAsync();
        await churn;

        Assert.Equal([300, 300, 300, 300], answered);
        Assert.NotEmpty(_m.List(gvtd));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task AddVGpu_WithAMegabyteArgument_IsInvalidArgsInOneShortLineAndChangesNothing(int which)
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var devices = ManagerTests.Devices(gvtd);
        string[] args = ["", "i915-GVTg_V5_8", Parent];
        args[which] = new string(which == 1 ? '.' : 'x', 1024 * 1024);
        using var connection = new DBusConnection(new DBusConnectionOptions(bus.Address) { AutoConnect = false });
        await connection.ConnectAsync();

        var error = await Assert.ThrowsAsync<DBusErrorReplyException>(() => connection.CallMethodAsync(Call(connection, "/org/gvtd/Gvtd1/Manager",
            "org.gvtd.Gvtd1.Manager", "AddVGpu", "sssb", (ref MessageWriter w) =>
            {
                w.WriteString(args[0]);
                w.WriteString(args[1]);
                w.WriteString(args[2]);
                w.WriteBool(false);
            })));

        Assert.Equal("org.freedesktop.DBus.Error.InvalidArgs", error.ErrorName);
        Assert.True(error.ErrorMessage.Length < 400, $"a message of {error.ErrorMessage.Length} characters");
        Assert.Equal(devices, ManagerTests.Devices(gvtd));
        Assert.False(File.Exists(Path.Combine(gvtd.DropInDir, "dbus.yaml")));
    }

    [Fact]
    public async Task KilledAtRandomMomentsOfPassesAndDeclarations_RestartsWithOwnershipCompleteAndConverges()
    {
        var dir = Directory.CreateTempSubdirectory("gvtd-crash-").FullName;
        var random = new Random(20261128);
        // The user's file and D-Bus declare different vGPUs: one UUID in both would be the user's
        // own conflict (an invalid state), not what this test is about.
        string[] inFile = [.. Enumerable.Range(1, 3).Select(i => $"11111111-2222-3333-4444-5555555555a{i}")];
        string[] overBus = [.. Enumerable.Range(4, 3).Select(i => $"11111111-2222-3333-4444-5555555555a{i}")];
        for (var round = 0; round < 6; round++)
        {
            var declared = inFile.Where(_ => random.Next(2) == 0).Select(u => (u, "i915-GVTg_V5_8")).ToArray();
            var gvtd = GvtdProcess.Start(bus.Address, Of(declared), dir);
            // Declarations over D-Bus and a reload in flight, then kill -9 somewhere in the middle.
            var calls = overBus.Select(u => Task.Run(() =>
                DbusSend.Manager(bus.Address, random.Next(2) == 0 ? "RemoveVGpu" : "AddVGpu",
                    random.Next(2) == 0 ? ["string:" + u] : ["string:" + u, "string:i915-GVTg_V5_8", "string:" + Parent, "boolean:false"]))).ToList();
            File.WriteAllText(gvtd.ConfigPath, Of(declared.Reverse().ToArray()));
            await Task.Delay(random.Next(0, 400));
            gvtd.Crash();
            await Task.WhenAll(calls).WaitAsync(HangGuard.Timeout);
        }

        using var last = GvtdProcess.Start(bus.Address, File.ReadAllText(Path.Combine(dir, "etc", "vgpus.yaml")), dir);
        var warnings = new List<string>();
        var ledger = OwnershipLedger.Load(last.StateDir, warnings.Add);

        // Every device on the (simulated) GPU was made by gvtd: each must be in its ledger.
        Assert.Empty(warnings);
        Assert.Empty(ledger.Creating);
        Assert.All(ManagerTests.Devices(last), d => Assert.Contains(d, ledger.Owned));
        // gvtd's own drop-in, if any, still loads, and the state converged.
        new DesiredStateLoader(last.ConfigPath, last.RuntimeDir).Load();
        last.WaitUntilIdle();
        Assert.Equal(_m.Get(last, "Desired").GetUInt32(), _m.Get(last, "Active").GetUInt32());
    }

    private delegate void Body(ref MessageWriter writer);

    private static MessageBuffer Call(DBusConnection connection, string path, string iface, string member, string signature, Body body)
    {
        var writer = connection.GetMessageWriter();
        try
        {
            writer.WriteMethodCallHeader("org.gvtd.Gvtd1", path, iface, member, signature.Length == 0 ? null : signature);
            if (signature.Length > 0) body(ref writer);
            return writer.CreateMessage();
        }
        finally
        {
            writer.Dispose();
        }
    }
}
