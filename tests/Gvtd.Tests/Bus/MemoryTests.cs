using Tmds.DBus.Protocol;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>Many calls in a row must not make the daemon grow (leaked messages, handles or strings would).</summary>
[Collection(SystemBusCollection.Name)]
public sealed class MemoryTests(SystemBusFixture bus)
{
    [Fact]
    public async Task ThousandCalls_LeaveResidentMemoryFlat()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));
        using var client = new DBusConnection(new DBusConnectionOptions(bus.Address) { AutoConnect = false });
        await client.ConnectAsync();

        // Warm up: the JIT's tiers and the GC heap settle within the first few thousand calls
        // (measured on Tmds.DBus.Protocol: RSS rises for ~5,000 calls, then grows by under 100 KiB
        // per 1,000 for 7,000 more; the NativeAOT build's figure is in tests/bench).
        await Calls(client, 6000);
        var before = gvtd.RssKiB();
        await Calls(client, 1000);
        var after = gvtd.RssKiB();

        // A leak of even one small native message per call would show as well over 1 MiB here.
        Assert.True(after - before < 1024, $"RSS grew from {before} KiB to {after} KiB over 1,000 calls");
    }

    private static async Task Calls(DBusConnection client, int count)
    {
        for (var i = 0; i < count; i++)
        {
            // An error reply throws, and fails the test with its message.
            await client.CallMethodAsync(Message(client, i % 3)).WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    private static MessageBuffer Message(DBusConnection client, int kind)
    {
        using var w = client.GetMessageWriter();
        switch (kind)
        {
            case 0:
                w.WriteMethodCallHeader("org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "ListVGpus");
                break;
            case 1:
                w.WriteMethodCallHeader("org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.freedesktop.DBus.Properties", "Get", "ss");
                w.WriteString("org.gvtd.Gvtd1.Manager");
                w.WriteString("State");
                break;
            default:
                w.WriteMethodCallHeader("org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.freedesktop.DBus.Properties", "GetAll", "s");
                w.WriteString("org.gvtd.Gvtd1.Manager");
                break;
        }
        return w.CreateMessage();
    }
}
