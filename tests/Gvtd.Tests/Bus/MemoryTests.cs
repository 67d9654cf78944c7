using Tmds.DBus.Protocol;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>
/// Many calls in a row must not make the daemon grow (leaked messages, handles or strings would).
/// What the daemon weighs is a benchmark figure (tests/bench/run prints its resident memory after
/// start and after 10,000 calls); here only its growth per call counts, which a leak sets and load does not.
/// </summary>
[Collection(SystemBusCollection.Name)]
public sealed class MemoryTests(SystemBusFixture bus)
{
    private const int WarmUp = 6000, Windows = 24, PerWindow = 1000;

    /// <summary>Steps left out at each end: a thread the pool adds under load, or one heap resize, is a step, not a slope.</summary>
    private const int StepsLeftOut = 2;

    /// <summary>
    /// The most the daemon may grow per call. Measured on a 2-core machine without a leak: about 1 byte
    /// a call. With a byte[] kept per call in the D-Bus layer (header and list slot add 32 bytes to
    /// each): 16 bytes, 66 a call; 32, 220; 64, 124; 100, 227; 200, 384; 1000, 1130.
    /// </summary>
    private const double MaxBytesPerCall = 32;

    [Fact]
    public async Task ManyCalls_GrowResidentMemoryByNoMoreThanAFewBytesEach()
    {
        // Two things in a JIT-run daemon move its memory by the clock and not by the calls: the JIT's
        // tiers, which compile again in the background whenever a loaded machine gets to it (the shipped
        // build is NativeAOT, with no JIT), and a gen0 budget sized from the CPU's cache (16 MiB here,
        // ~20,000 calls before the first collection, so a survivor showed only after it). A fixed 512 KiB
        // gen0 collects every few hundred calls: what a call leaves behind shows in the window it was left in.
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")), environment: new Dictionary<string, string>
        {
            ["DOTNET_TieredCompilation"] = "0",
            ["DOTNET_GCgen0size"] = "80000", // hex: 512 KiB
        });
        using var client = new DBusConnection(new DBusConnectionOptions(bus.Address) { AutoConnect = false });
        await client.ConnectAsync();

        await Calls(client, WarmUp);
        var rss = new List<long> { gvtd.RssKiB() };
        for (var w = 0; w < Windows; w++)
        {
            await Calls(client, PerWindow);
            rss.Add(gvtd.RssKiB());
        }

        // Growth over the windows but the steps farthest from the rest, per call: a leak grows the heap
        // in every stretch of windows, a thread the pool adds under load or a heap resize (up, or a
        // collection giving memory back) in one window each.
        var steps = rss.Zip(rss.Skip(1), (a, b) => b - a).Order().ToList();
        var kept = steps[StepsLeftOut..^StepsLeftOut];
        var bytesPerCall = kept.Sum() * 1024.0 / (kept.Count * PerWindow);
        Assert.True(bytesPerCall < MaxBytesPerCall,
            $"gvtd grew {bytesPerCall:0.0} bytes per call ({kept.Sum()} KiB over {kept.Count} windows of {PerWindow} calls, leaving out the " +
            $"{StepsLeftOut} largest and {StepsLeftOut} smallest steps: {string.Join(", ", steps[..StepsLeftOut].Concat(steps[^StepsLeftOut..]))} KiB); " +
            $"RSS in KiB after each window: {string.Join(' ', rss)}");
    }

    private static async Task Calls(DBusConnection client, int count)
    {
        for (var i = 0; i < count; i++)
        {
            // An error reply throws, and fails the test with its message. The wait is a hang guard.
            await client.CallMethodAsync(Message(client, i % 3)).WaitAsync(HangGuard.Timeout);
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
