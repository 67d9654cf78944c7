using Gvtd.Tests.Support;
using Tmds.DBus.Protocol;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>
/// Plan is open to anyone, and used to cost a whole sysfs read per call: a user without rights
/// could keep gvtd's cores busy and grow its heap. Calls that come together now share one read.
/// </summary>
[Collection(SystemBusCollection.Name)]
public sealed class FloodTests(SystemBusFixture bus)
{
    private const string Manager = "/org/gvtd/Gvtd1/Manager", Iface = "org.gvtd.Gvtd1.Manager";

    [Fact]
    public async Task ThousandConcurrentPlansFromNobody_DuringPasses_AreAllAnsweredWithFarFewerReads_AndPropertiesStillAnswer()
    {
        const int Connections = 10, CallsEach = 100; // the system bus allows 128 pending replies per connection
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        var parent = Directory.ResolveLinkTarget(Path.Combine(gvtd.SysfsRoot, "class", "mdev_bus", Parent), returnFinalTarget: true)!.FullName;
        using var reads = new OpenCounter(Path.Combine(parent, "mdev_supported_types", "i915-GVTg_V5_4"), "available_instances");
        var nobodies = await Task.WhenAll(Enumerable.Range(0, Connections).Select(_ => NobodyConnection.ConnectAsync(bus.Address)));
        using var root = new DBusConnection(new DBusConnectionOptions(bus.Address) { AutoConnect = false });
        await root.ConnectAsync();
        using var watcher = await NobodyConnection.ConnectAsync(bus.Address);
        // The bus knows these callers as nobody: what changes things is refused to them.
        var refused = await Assert.ThrowsAsync<DBusErrorReplyException>(() => watcher.CallMethodAsync(Call(watcher, "Reconcile")));
        Assert.Equal("org.freedesktop.DBus.Error.AccessDenied", refused.ErrorName);

        // Passes back to back for as long as the flood lasts, each publishing new snapshots.
        using var stop = new CancellationTokenSource();
        var passing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var passes = Task.Run(async () =>
        {
            var count = 0;
            for (; !stop.IsCancellationRequested; count++)
            {
                await root.CallMethodAsync(Call(root, "Reconcile"));
                passing.TrySetResult();
            }
            return count;
        });
        await passing.Task.WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard

        var plans = nobodies.SelectMany(c => Enumerable.Range(0, CallsEach).Select(_ => c.CallMethodAsync(Call(c, "Plan"), (m, _) => Rows(m), null))).ToList();
        var flood = Task.WhenAll(plans);
        var properties = 0;
        do
        {
            await watcher.CallMethodAsync(Get(watcher, "State")).WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard
            properties++;
        } while (!flood.IsCompleted);
        await flood.WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard
        await stop.CancelAsync();
        var passCount = await passes.WaitAsync(TimeSpan.FromSeconds(60));
        reads.Settle();

        Assert.All(plans, p => Assert.Equal(2, p.Result));
        Assert.True(passCount > 0 && properties > 0, $"{passCount} passes and {properties} property reads ran during the flood");
        var calls = Connections * CallsEach;
        Assert.True(reads.Opens * 5 <= calls, $"{calls} Plan calls (with {passCount} passes) read sysfs {reads.Opens} times");
        foreach (var c in nobodies) c.Dispose();
    }

    /// <summary>How many actions a Plan reply holds.</summary>
    private static int Rows(Message reply)
    {
        var reader = reply.GetBodyReader();
        var end = reader.ReadArrayStart(DBusType.Struct);
        var rows = 0;
        for (; reader.HasNext(end); rows++)
        {
            reader.AlignStruct();
            for (var field = 0; field < 5; field++) reader.ReadString();
        }
        return rows;
    }

    private static MessageBuffer Call(DBusConnection connection, string member)
    {
        using var w = connection.GetMessageWriter();
        w.WriteMethodCallHeader("org.gvtd.Gvtd1", Manager, Iface, member);
        return w.CreateMessage();
    }

    private static MessageBuffer Get(DBusConnection connection, string property)
    {
        using var w = connection.GetMessageWriter();
        w.WriteMethodCallHeader("org.gvtd.Gvtd1", Manager, "org.freedesktop.DBus.Properties", "Get", "ss");
        w.WriteString(Iface);
        w.WriteString(property);
        return w.CreateMessage();
    }
}
