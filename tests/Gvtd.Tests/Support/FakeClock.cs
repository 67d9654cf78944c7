using Gvtd.Reconcile;
using Gvtd.Simulation;
using Microsoft.Extensions.Time.Testing;

namespace Gvtd.Tests.Support;

/// <summary>
/// The worker's clock in tests: a <see cref="FakeTimeProvider"/> that the test moves forward, so
/// settle windows, retries and intervals are measured on gvtd's own clock, not on how busy the
/// machine running the tests is. Time moves only while gvtd waits on time alone: no pass runs (when
/// the reconciler is followed), no uevent of the simulated kernel is still on its way, and the
/// worker waits for a request with none handed to it and untaken, waits out a settle time, or has a
/// pass waiting on a kernel write. After a step that fired one of gvtd's timers, it moves again only
/// once gvtd has armed its next wait. However slow the machine, gvtd cannot look late; no step waits
/// a fixed real time, and every real-time wait is a hang guard that fails the test, labelled so.
/// </summary>
public sealed class FakeClock : FakeTimeProvider
{
    /// <summary>How far the clock moves at a time: how finely a test on it can tell when gvtd acted.</summary>
    public static readonly TimeSpan Step = TimeSpan.FromMilliseconds(50);
    /// <summary>Real time gvtd may take to come back to waiting on the clock before a test calls it hung.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);
    private int _passesRunning;
    private bool _followsPasses;
    private int _fired, _armed, _live;
    private Func<bool>? _waitsOnTimeAlone;
    private Func<string>? _describe;
    // Pulsed whenever gvtd arms a timer, a timer fires, or a pass starts or ends. Conditions outside
    // the clock (the worker's, the simulator's) are also looked at every millisecond.
    private readonly object _changed = new();

    public FakeClock() : base(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero)) { }

    /// <summary>Timers of gvtd's armed so far.</summary>
    public int TimersArmed => Volatile.Read(ref _armed);

    /// <summary>Timers of gvtd's armed and neither fired nor disposed: what gvtd is waiting on the clock for.</summary>
    public int LiveTimers => Volatile.Read(ref _live);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Tracked(this);
        timer.Arm(dueTime, period);
        Interlocked.Increment(ref _armed);
        Pulse();
        timer.Inner = base.CreateTimer(s =>
        {
            timer.Fired();
            Interlocked.Increment(ref _fired);
            Pulse();
            callback(s);
        }, state, dueTime, period);
        return timer;
    }

    /// <summary>
    /// Counts passes in flight from the reconciler's announcements, so the clock can wait for them.
    /// A pass starts when the state turns to Reconciling; it ends with its result, or with Degraded
    /// and no result when it threw. Other publications during a pass (the sleep coordinator's, from
    /// its own thread) keep Reconciling and are not passes; a refused pass (invalid files) publishes
    /// only its result, and a result with no pass started ends nothing.
    /// </summary>
    public void Follow(Reconciler reconciler)
    {
        _followsPasses = true;
        var inPass = false; // announcements come one at a time, under the reconciler's publishing lock
        reconciler.Changed += (snapshot, result) =>
        {
            var running = result is null && snapshot.State == DaemonState.Reconciling;
            if (running && !inPass) Interlocked.Increment(ref _passesRunning);
            else if (!running && inPass) Interlocked.Decrement(ref _passesRunning);
            inPass = running;
            Pulse();
        };
    }

    /// <summary>
    /// Moves time only while <paramref name="worker"/> waits on time alone and no uevent of
    /// <paramref name="kernel"/> is still being delivered. Needed before AdvanceBy and AdvanceUntil.
    /// </summary>
    public void Follow(ReconcileWorker worker, SimulatedMdevCore kernel)
    {
        _waitsOnTimeAlone = () => worker.WaitsOnTimeAlone && kernel.DeliveriesInFlight == 0;
        _describe = () => $"worker waits on time alone: {worker.WaitsOnTimeAlone}, uevent batches in flight: {kernel.DeliveriesInFlight}";
    }

    /// <summary>
    /// Moves the clock forward in small steps until <paramref name="condition"/> holds, failing once
    /// more than <paramref name="within"/> of gvtd's time has gone by. Returns the time it took.
    /// </summary>
    public TimeSpan AdvanceUntil(Func<bool> condition, TimeSpan within, string what, TimeSpan? step = null)
    {
        var start = GetTimestamp();
        while (true)
        {
            WaitForGvtd();
            if (condition()) return GetElapsedTime(start);
            Assert.True(GetElapsedTime(start) < within, $"not there within {within.TotalSeconds} s of gvtd's clock: {what} (passes running {_passesRunning}, now {GetUtcNow():O})");
            Step1(step ?? Step, loopStuck: false);
        }
    }

    /// <summary>
    /// Moves the clock forward by <paramref name="span"/> in small steps, letting gvtd run between
    /// them. With <paramref name="loopStuck"/> (a test that holds the worker's loop on purpose),
    /// steps do not wait for the loop to come back to the clock, only for the timers it arms.
    /// </summary>
    public void AdvanceBy(TimeSpan span, bool loopStuck = false)
    {
        for (var gone = TimeSpan.Zero; gone < span; gone += Step)
        {
            if (!loopStuck) WaitForGvtd();
            Step1(Step, loopStuck);
        }
        if (!loopStuck) WaitForGvtd();
    }

    /// <summary>
    /// Waits in real time (a hang guard, not a verdict) until <paramref name="condition"/> holds:
    /// for work from a thread the clock cannot see, such as the /dev/vfio watch, to have reached gvtd.
    /// </summary>
    public void WaitFor(Func<bool> condition, string what) =>
        Assert.True(WaitUntil(condition), $"hang guard: not within {HangGuard.TotalSeconds} s of real time: {what}");

    /// <summary>Waits (hang guard) until gvtd waits on some timer of this clock, e.g. a write's timeout.</summary>
    public void WaitForLiveTimer(string what) => WaitFor(() => LiveTimers > 0, what);

    /// <summary>One step: advance, then let what it woke up run until gvtd waits on the clock again.</summary>
    private void Step1(TimeSpan step, bool loopStuck)
    {
        var fired = Volatile.Read(ref _fired);
        var armed = Volatile.Read(ref _armed);
        Advance(step);
        if (Volatile.Read(ref _fired) == fired)
        {
            // Nothing of gvtd's was due. What it waits for from other threads (a request, a uevent)
            // shows in the worker's and the simulator's counts: wait until it has been taken up.
            if (!loopStuck) WaitForGvtd();
            return;
        }
        // A timer of gvtd's fired: it reacts (perhaps with a pass) and then arms its next wait.
        var rearmed = WaitUntil(() => Volatile.Read(ref _armed) > armed && (loopStuck || WaitsOnTimeAlone()));
        Assert.True(rearmed, $"hang guard: gvtd armed no new wait within {HangGuard.TotalSeconds} s of real time after a timer fired ({Describe()})");
    }

    private bool WaitsOnTimeAlone() =>
        (!_followsPasses || Volatile.Read(ref _passesRunning) == 0)
        && (_waitsOnTimeAlone ?? throw new InvalidOperationException("FakeClock.Follow(worker, kernel) first"))();

    private void WaitForGvtd() =>
        Assert.True(WaitUntil(WaitsOnTimeAlone), $"hang guard: gvtd did not come back to waiting on the clock within {HangGuard.TotalSeconds} s of real time ({Describe()})");

    private string Describe() => $"passes running {_passesRunning}, {_describe?.Invoke()}, now {GetUtcNow():O}";

    private void Pulse()
    {
        lock (_changed) Monitor.PulseAll(_changed);
    }

    /// <summary>Blocks until <paramref name="condition"/> holds (true) or the hang guard has gone by (false).</summary>
    private bool WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + HangGuard;
        lock (_changed)
        {
            while (!condition())
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) return false;
                Monitor.Wait(_changed, left < TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1));
            }
            return true;
        }
    }

    /// <summary>A timer of gvtd's, counted live from arming until it fires (once) or is disposed.</summary>
    private sealed class Tracked(FakeClock clock) : ITimer
    {
        private readonly Lock _lock = new();
        private bool _live;
        private bool _periodic;
        public ITimer Inner { get; set; } = null!;

        public void Arm(TimeSpan dueTime, TimeSpan period)
        {
            lock (_lock)
            {
                _periodic = period != Timeout.InfiniteTimeSpan && period != TimeSpan.Zero;
                Set(dueTime != Timeout.InfiniteTimeSpan);
            }
        }

        public void Fired()
        {
            lock (_lock) if (!_periodic) Set(false);
        }

        private void Set(bool live)
        {
            if (live == _live) return;
            _live = live;
            if (live) Interlocked.Increment(ref clock._live);
            else Interlocked.Decrement(ref clock._live);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Arm(dueTime, period);
            clock.Pulse();
            return Inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            lock (_lock) Set(false);
            clock.Pulse();
            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            lock (_lock) Set(false);
            clock.Pulse();
            return Inner.DisposeAsync();
        }
    }
}
