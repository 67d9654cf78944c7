using Gvtd.Reconcile;
using Microsoft.Extensions.Time.Testing;

namespace Gvtd.Tests.Support;

/// <summary>
/// The worker's clock in tests: a <see cref="FakeTimeProvider"/> that the test moves forward, so
/// settle windows, retries and intervals are measured on gvtd's own clock, not on how busy the
/// machine running the tests is. Time only moves while no pass runs, and after a step that fired
/// one of gvtd's timers, only once gvtd has armed its next wait: however slow the machine, gvtd
/// cannot look late. A step that fired nothing waits until work from other threads (the simulated
/// kernel's uevents, the /dev/vfio watch) has reached the worker, or a moment when none comes.
/// </summary>
public sealed class FakeClock : FakeTimeProvider
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(50);
    private int _passesRunning;
    private int _fired, _armed;
    // Pulsed whenever gvtd arms a timer, a timer fires, or a pass starts or ends: the clock waits
    // on what gvtd does, never a fixed time.
    private readonly object _changed = new();

    public FakeClock() : base(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero)) { }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Increment(ref _armed);
        Pulse();
        return base.CreateTimer(s =>
        {
            Interlocked.Increment(ref _fired);
            Pulse();
            callback(s);
        }, state, dueTime, period);
    }

    /// <summary>Counts passes in flight from the reconciler's announcements, so the clock can wait for them.</summary>
    public void Follow(Reconciler reconciler) =>
        reconciler.Changed += (snapshot, result) =>
        {
            if (result is null && snapshot.State == DaemonState.Reconciling) Interlocked.Increment(ref _passesRunning);
            else if (result is not null && Volatile.Read(ref _passesRunning) > 0) Interlocked.Decrement(ref _passesRunning);
            Pulse();
        };

    /// <summary>
    /// Moves the clock forward in small steps until <paramref name="condition"/> holds, failing once
    /// more than <paramref name="within"/> of gvtd's time has gone by. Returns the time it took.
    /// </summary>
    public TimeSpan AdvanceUntil(Func<bool> condition, TimeSpan within, string what, TimeSpan? step = null)
    {
        var start = GetTimestamp();
        while (true)
        {
            WaitForPasses();
            if (condition()) return GetElapsedTime(start);
            Assert.True(GetElapsedTime(start) < within, $"not there within {within.TotalSeconds} s of gvtd's clock: {what} (passes running {_passesRunning}, now {GetUtcNow():O})");
            Step1(step ?? Step);
        }
    }

    /// <summary>Moves the clock forward by <paramref name="span"/> in small steps, letting gvtd run between them.</summary>
    public void AdvanceBy(TimeSpan span)
    {
        for (var gone = TimeSpan.Zero; gone < span; gone += Step)
        {
            WaitForPasses();
            Step1(Step);
        }
        WaitForPasses();
    }

    /// <summary>One step: advance, then let what it woke up run until gvtd waits on the clock again.</summary>
    private void Step1(TimeSpan step)
    {
        var fired = Volatile.Read(ref _fired);
        var armed = Volatile.Read(ref _armed);
        Advance(step);
        if (Volatile.Read(ref _fired) == fired)
        {
            // Nothing of gvtd's was due: what it waits for comes from another thread (a request, a
            // uevent, the /dev/vfio watch). Such work shows as a settle timer armed or a pass begun;
            // go on as soon as it does, and after a moment when nothing came.
            WaitUntil(() => Volatile.Read(ref _armed) > armed || Volatile.Read(ref _passesRunning) > 0, TimeSpan.FromMilliseconds(10));
            return;
        }
        // A timer of gvtd's fired: it reacts (perhaps with a pass) and then arms its next wait.
        WaitUntil(() => Volatile.Read(ref _armed) > armed && Volatile.Read(ref _passesRunning) == 0, TimeSpan.FromSeconds(30));
    }

    private void WaitForPasses() => WaitUntil(() => Volatile.Read(ref _passesRunning) == 0, TimeSpan.FromSeconds(30));

    private void Pulse()
    {
        lock (_changed) Monitor.PulseAll(_changed);
    }

    /// <summary>Blocks until <paramref name="condition"/> holds (checked at every pulse) or <paramref name="within"/> has gone by.</summary>
    private void WaitUntil(Func<bool> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        lock (_changed)
        {
            while (!condition())
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) return;
                Monitor.Wait(_changed, left);
            }
        }
    }
}
