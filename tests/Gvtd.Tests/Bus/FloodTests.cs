using Gvtd.Tests.Support;
using Tmds.DBus.Protocol;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>
/// Plan is open to anyone, and used to cost a whole sysfs read per call: a user without rights
/// could keep gvtd's cores busy and grow its heap. Calls that come together now share one read:
/// all that come while one runs share the next.
/// </summary>
[Collection(SystemBusCollection.Name)]
public sealed class FloodTests(SystemBusFixture bus)
{
    private const string Manager = "/org/gvtd/Gvtd1/Manager", Iface = "org.gvtd.Gvtd1.Manager";

    [Fact]
    public async Task ThousandConcurrentPlansFromNobody_WhileAReadIsHeld_AreAllAnsweredByAtMostTwoReads_AndPropertiesStillAnswer()
    {
        const int Connections = 10, CallsEach = 100; // the system bus allows 128 pending replies per connection
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        var parent = Directory.ResolveLinkTarget(Path.Combine(gvtd.SysfsRoot, "class", "mdev_bus", Parent), returnFinalTarget: true)!.FullName;
        var typeDir = Path.Combine(parent, "mdev_supported_types", "i915-GVTg_V5_4");
        var attribute = Path.Combine(typeDir, "available_instances");
        var nobodies = await Task.WhenAll(Enumerable.Range(0, Connections).Select(_ => NobodyConnection.ConnectAsync(bus.Address)));
        using var watcher = await NobodyConnection.ConnectAsync(bus.Address);
        // The bus knows these callers as nobody: what changes things is refused to them.
        var refused = await Assert.ThrowsAsync<DBusErrorReplyException>(() => watcher.CallMethodAsync(Call(watcher, "Reconcile")));
        Assert.Equal("org.freedesktop.DBus.Error.AccessDenied", refused.ErrorName);

        // Every read of sysfs opens this attribute; as a FIFO, the first read to open it waits until
        // the test lets it go, however fast or slow the machine and the bus are. gvtd is idle
        // (interval 1h), so only Plan calls read.
        var value = File.ReadAllText(attribute);
        var plain = Path.Combine(gvtd.Dir, "available_instances.plain");
        File.WriteAllText(plain, value);
        File.Delete(attribute);
        Gvtd.Interop.Fifo.Create(attribute);
        using var reads = new OpenCounter(typeDir, "available_instances");

        var released = false;
        // Let the held read go: the writer's open waits for the reader, then the plain file takes the
        // FIFO's place for every read after, and the held one gets the value.
        async Task Release()
        {
            if (released) return;
            released = true;
            var writer = await Task.Run(() => new FileStream(attribute, FileMode.Open, FileAccess.Write))
                .WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard: gvtd never opened the attribute to read it
            using (writer)
            {
                File.Move(plain, attribute, overwrite: true);
                writer.Write(System.Text.Encoding.UTF8.GetBytes(value));
            }
        }

        List<Task<int>> plans;
        var properties = 0;
        var held = System.Diagnostics.Stopwatch.StartNew(); // a figure for the message: past the write timeout (10 s) a Plan fails as "cannot know"
        try
        {
            // Each connection's calls are dispatched in the order sent, each handed to the shared read
            // before the next is looked at: once a connection's Get State is answered, all its Plans
            // wait on the held read or on the one after it.
            plans = nobodies.SelectMany(c => Enumerable.Range(0, CallsEach).Select(_ => c.CallMethodAsync(Call(c, "Plan"), (m, _) => Rows(m), null))).ToList();
            foreach (var c in nobodies.Append(watcher))
            {
                await c.CallMethodAsync(Get(c, "State")).WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard
                properties++;
            }
            Assert.DoesNotContain(plans, p => p.IsCompleted);
            await Release();
            held.Stop();
            await Task.WhenAll(plans).WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard
        }
        finally
        {
            await Release(); // a FIFO left in place would hold every later open of it, the counter's too
        }
        reads.Settle();

        Assert.All(plans, p => Assert.Equal(2, p.Result));
        Assert.Equal(Connections + 1, properties);
        var calls = Connections * CallsEach;
        var gvtdReads = reads.Opens - 1; // the test's own open of the FIFO to write it
        Assert.True(gvtdReads is >= 1 and <= 2, $"{calls} Plan calls read sysfs {gvtdReads} times (the held read and at most one after it); the read was held {held.Elapsed.TotalSeconds:0.0} s");
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
