using System.Collections.Concurrent;
using Gvtd.Reconcile;
using Gvtd.Systemd;
using Gvtd.Tests.Support;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging.Abstractions;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.Reconcile;

/// <summary>
/// The watchdog beats from the reconcile loop: through a long pass whose writes are stuck in the
/// kernel (each bounded by the write timeout), and not at all while the loop itself is stuck.
/// Beats, write timeouts and the watchdog period all run on one fake clock, so a loaded machine's
/// late timers cannot pass for a missed beat.
/// </summary>
public sealed class WatchdogTests : IAsyncLifetime
{
    private static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(2);
    private static readonly string[] Uuids = [.. Enumerable.Range(1, 6).Select(i => $"11111111-2222-3333-4444-5555555555c{i}")];
    private readonly TempDir _dir = new();
    // Not following the reconciler: the clock must move while the stuck pass runs.
    private readonly FakeClock _clock = new();
    private readonly Beats _beats;
    private readonly ManualResetEventSlim _kernelLetsGo = new(false);
    private SimulatedHost _host = null!;
    private ReconcileWorker _worker = null!;

    public WatchdogTests() => _beats = new Beats(_clock);

    public async Task InitializeAsync()
    {
        // Each stuck remove is waited on for 800 ms: six of them make a pass of 4.8 s, longer than
        // two watchdog periods.
        _host = new SimulatedHost(_dir, writeTimeout: TimeSpan.FromMilliseconds(800), time: _clock);
        _dir.Write(MainFile, "settings:\n  interval: 1h\nvgpus:\n" + string.Concat(Uuids.Select(u => VGpu(u, "i915-GVTg_V5_8", "00:02.0"))));
        _worker = new ReconcileWorker(_host.Store, _host.Reconciler, _host.Applier, _host.Writer, _host.VfioUsers,
            new ServiceManager(_beats, Watchdog), _clock, NullLogger<ReconcileWorker>.Instance);
        _clock.Follow(_worker, _host.Core); // time moves while the pass waits on its stuck writes
        // Off xunit's context: the worker's continuations must not queue behind a test thread that
        // is busy moving the clock.
        await Task.Run(() => _worker.StartAsync(CancellationToken.None));
        Assert.Equal(Uuids.Order(), _host.Devices);
        _clock.AdvanceBy(TimeSpan.FromSeconds(2)); // the uevents of its own creates settle, and the worker waits
    }

    public async Task DisposeAsync()
    {
        _kernelLetsGo.Set();
        await _worker.StopAsync(CancellationToken.None);
        _worker.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task APassOfStuckWrites_LongerThanTheWatchdogPeriod_KeepsTheBeatsComing()
    {
        _host.Writer.HeldRemoveGate = _kernelLetsGo; // every remove now blocks, as under a VM
        _dir.Write(MainFile, "settings:\n  interval: 1h\nvgpus: []\n");
        var from = _beats.Count;

        var pass = _worker.RequestPassAsync("test", reload: true);
        var took = _clock.AdvanceUntil(() => pass.IsCompleted, TimeSpan.FromSeconds(30), "the pass of stuck removes to end");
        await pass;

        Assert.True(took > Watchdog * 2, $"the pass took only {took.TotalMilliseconds:0} ms; the test needs one longer than the watchdog period");
        var gaps = _beats.GapsSince(from, took);
        Assert.True(gaps.Max() < Watchdog, $"a gap of {gaps.Max().TotalMilliseconds:0} ms between WATCHDOG=1 during a {took.TotalMilliseconds:0} ms pass (period {Watchdog.TotalMilliseconds:0} ms)");
    }

    [Fact]
    public void AnIdleLoop_BeatsEveryHalfPeriod()
    {
        // Nothing to do and an interval of an hour: only the loop's own wake-ups beat. A beat every
        // half period (systemd's advice) leaves a late one room; the clock's step is its resolution.
        var from = _beats.Count;
        var span = Watchdog * 5;

        _clock.AdvanceBy(span);

        var gaps = _beats.GapsSince(from, span);
        Assert.True(gaps.Max() <= Watchdog / 2 + FakeClock.Step,
            $"a gap of {gaps.Max().TotalMilliseconds:0} ms between WATCHDOG=1 while idle (period {Watchdog.TotalMilliseconds:0} ms, so at most {(Watchdog / 2 + FakeClock.Step).TotalMilliseconds:0} ms)");
    }

    [Fact]
    public async Task ALoopStuckOutsideTheKernelWrites_StopsTheBeats()
    {
        using var stuck = new ManualResetEventSlim(false);
        using var release = new ManualResetEventSlim(false);
        _host.Reconciler.Changed += (_, result) =>
        {
            if (result is null) return;
            stuck.Set();
            release.Wait(); // a pass that never finishes, on the loop itself
        };
        var pass = _worker.RequestPassAsync("test", reload: false);
        Assert.True(stuck.Wait(TimeSpan.FromSeconds(60)), "hang guard: the pass did not start within 60 s");
        var from = _beats.Count;

        _clock.AdvanceBy(Watchdog * 3, loopStuck: true);

        var beatsWhileStuck = _beats.Count - from;
        release.Set();
        await pass;
        Assert.Equal(0, beatsWhileStuck);
    }

    /// <summary>What the service manager hears, with when.</summary>
    private sealed class Beats(TimeProvider clock) : ISystemdNotifier
    {
        private readonly ConcurrentQueue<TimeSpan> _at = new();
        private readonly long _start = clock.GetTimestamp();

        public bool IsEnabled => true;

        public int Count => _at.Count;

        public void Notify(ServiceState state)
        {
            if (state.ToString() == "WATCHDOG=1") _at.Enqueue(clock.GetElapsedTime(_start));
        }

        /// <summary>The gaps between beats from the one at index <paramref name="from"/> over the last <paramref name="span"/>, ends included.</summary>
        public List<TimeSpan> GapsSince(int from, TimeSpan span)
        {
            var end = clock.GetElapsedTime(_start);
            var times = new List<TimeSpan> { end - span };
            times.AddRange(_at.Skip(from));
            times.Add(end);
            return [.. times.Zip(times.Skip(1), (a, b) => b - a)];
        }
    }
}
