using Gvtd.Interop;
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
        using var client = BusConnection.OpenAddress(bus.Address);
        using var stop = new CancellationTokenSource();
        var loop = new Thread(() => client.Run(stop.Token)) { IsBackground = true };
        loop.Start();

        // Warm up: the JIT's tiers and the GC heap settle within the first few thousand calls
        // (measured: RSS rises for ~3,000 calls, then stays the same to the KiB for 9,000 more).
        await Calls(client, 4000);
        var before = gvtd.RssKiB();
        await Calls(client, 1000);
        var after = gvtd.RssKiB();
        stop.Cancel();
        loop.Join();

        // A leak of even one small native message per call would show as well over 1 MiB here.
        Assert.True(after - before < 1024, $"RSS grew from {before} KiB to {after} KiB over 1,000 calls");
    }

    private static async Task Calls(BusConnection client, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var (member, iface, args) = (i % 3) switch
            {
                0 => ("ListVGpus", "org.gvtd.Gvtd1.Manager", (Action<MessageWriter>?)null),
                1 => ("Get", "org.freedesktop.DBus.Properties", w => { w.Write("org.gvtd.Gvtd1.Manager"); w.Write("State"); }),
                _ => ("GetAll", "org.freedesktop.DBus.Properties", w => w.Write("org.gvtd.Gvtd1.Manager")),
            };
            var done = new TaskCompletionSource<MethodReply>(TaskCreationOptions.RunContinuationsAsynchronously);
            client.CallAsync("org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", iface, member, args, r => done.SetResult(r), TimeSpan.FromSeconds(10));
            var reply = await done.Task;
            Assert.False(reply.IsError, reply.ErrorMessage);
        }
    }
}
