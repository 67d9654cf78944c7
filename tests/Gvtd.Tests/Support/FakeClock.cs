using Gvtd.Reconcile;
using Microsoft.Extensions.Time.Testing;

namespace Gvtd.Tests.Support;

/// <summary>
/// The worker's clock in tests: a <see cref="FakeTimeProvider"/> that the test moves forward, so
/// settle windows, retries and intervals are measured on gvtd's own clock, not on how busy the
/// machine running the tests is. Time only moves while no pass runs, so a slow pass cannot make
/// gvtd look late.
/// </summary>
public sealed class FakeClock : FakeTimeProvider
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(50);
    private int _passesRunning;

    public FakeClock() : base(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero)) { }

    /// <summary>Counts passes in flight from the reconciler's announcements, so the clock can wait for them.</summary>
    public void Follow(Reconciler reconciler) =>
        reconciler.Changed += (snapshot, result) =>
        {
            if (result is null && snapshot.State == DaemonState.Reconciling) Interlocked.Increment(ref _passesRunning);
            else if (result is not null && Volatile.Read(ref _passesRunning) > 0) Interlocked.Decrement(ref _passesRunning);
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
            Advance(step ?? Step);
            Thread.Sleep(10); // let what the step woke up run
        }
    }

    /// <summary>Moves the clock forward by <paramref name="span"/> in small steps, letting gvtd run between them.</summary>
    public void AdvanceBy(TimeSpan span)
    {
        for (var gone = TimeSpan.Zero; gone < span; gone += Step)
        {
            WaitForPasses();
            Advance(Step);
            Thread.Sleep(10);
        }
        WaitForPasses();
    }

    private void WaitForPasses()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Volatile.Read(ref _passesRunning) > 0 && DateTime.UtcNow < deadline) Thread.Sleep(5);
    }
}
