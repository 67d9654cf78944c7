using Gvtd.Reconcile;
using Gvtd.Sysfs;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.Reconcile;

/// <summary>
/// Plan, PlanFunctions and PreviewAddVGpu are open to anyone: callers asking at the same time
/// share one read of the host instead of each making their own.
/// </summary>
public sealed class PlanPreviewTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task ConcurrentPlans_ShareFarFewerSysfsReadsThanCalls()
    {
        const int Calls = 200;
        var host = new SimulatedHost(_dir);
        host.Configure("settings:\n  prune: owned\nvgpus:\n" + VGpu(U1, "i915-GVTg_V5_4", "00:02.0") + VGpu(U2, "i915-GVTg_V5_8", "00:02.0"));
        await host.PassAsync();
        var preview = new PlanPreview(host.Reconciler, new GvtdOptions());
        using var reads = new OpenCounter(Path.Combine(SysfsRoot.TypesDir(host.Reader.Read().Parents[SimulatedHost.Gpu].SysfsPath), "i915-GVTg_V5_4"), "available_instances");

        // All released at once, from the pool, as the bus hands them over.
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = Enumerable.Range(0, Calls).Select(_ => Task.Run(async () =>
        {
            await go.Task;
            return await preview.NowAsync();
        })).ToList();
        go.SetResult();
        var answers = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard

        Assert.All(answers, a => Assert.Equal([U1, U2], a.VGpus.Select(v => v.Uuid).Order()));
        reads.Settle();
        Assert.True(reads.Opens * 10 <= Calls, $"{Calls} concurrent plans read sysfs {reads.Opens} times");
    }

    /// <summary>A preview whose reads wait for the test: each read is numbered, answers its own preview, and holds until let go.</summary>
    private sealed class HeldReads
    {
        public static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
        public readonly FakeClock Clock = new();
        public int Started, Running, MostAtOnce;
        public readonly List<TaskCompletionSource> Gates = [];
        public readonly List<Preview> Answers = [];

        public PlanPreview Preview() => new(Read, Bound, Clock);

        private Preview Read()
        {
            TaskCompletionSource gate;
            Preview answer;
            lock (Gates)
            {
                Started++;
                MostAtOnce = Math.Max(MostAtOnce, ++Running);
                Gates.Add(gate = new TaskCompletionSource());
                Answers.Add(answer = new Preview(null, null, [], []));
            }
            Assert.True(gate.Task.Wait(TimeSpan.FromSeconds(60)), "hang guard: the test never let read go");
            lock (Gates) Running--;
            return answer;
        }

        public void Until(int started) =>
            Assert.True(SpinWait.SpinUntil(() => { lock (Gates) return Started >= started; }, TimeSpan.FromSeconds(60)),
                $"hang guard: read {started} never started (started: {Started})");
    }

    [Fact]
    public async Task ACallWhileAReadRuns_GetsTheNextRead_AndReadsNeverOverlap()
    {
        var reads = new HeldReads();
        var preview = reads.Preview();

        var first = preview.NowAsync();
        reads.Until(started: 1);
        // The read in flight may have looked at sysfs before these callers changed it: they wait for the next.
        var joined = preview.NowAsync();
        var alsoJoined = preview.NowAsync();
        Assert.False(first.IsCompleted); // handed over, not waited for: the caller's thread goes on
        lock (reads.Gates) Assert.Equal(1, reads.Started); // the next read waits for the one in flight

        reads.Gates[0].SetResult();
        Assert.Same(reads.Answers[0], await first.WaitAsync(TimeSpan.FromSeconds(60))); // a hang guard
        reads.Until(started: 2);
        Assert.False(joined.IsCompleted);
        reads.Gates[1].SetResult();
        Assert.Same(reads.Answers[1], await joined.WaitAsync(TimeSpan.FromSeconds(60))); // a hang guard
        Assert.Same(reads.Answers[1], await alsoJoined.WaitAsync(TimeSpan.FromSeconds(60))); // a hang guard
        Assert.Equal((2, 1), (reads.Started, reads.MostAtOnce));

        // Nothing in flight: the next call reads again, for a plan as of now.
        var later = preview.NowAsync();
        reads.Until(started: 3);
        reads.Gates[2].SetResult();
        Assert.Same(reads.Answers[2], await later.WaitAsync(TimeSpan.FromSeconds(60))); // a hang guard
    }

    [Fact]
    public async Task AReadThatDoesNotReturn_FailsItsCallersAfterTheBound_SayingGvtdCannotKnow_AndNoSecondReadStarts()
    {
        var reads = new HeldReads();
        var preview = reads.Preview();

        var first = preview.NowAsync();
        reads.Until(started: 1);
        var queued = preview.NowAsync();
        reads.Clock.Advance(HeldReads.Bound);

        foreach (var call in new[] { first, queued })
        {
            var error = await Assert.ThrowsAsync<PreviewTimeoutException>(() => call.WaitAsync(TimeSpan.FromSeconds(60))); // a hang guard
            Assert.StartsWith("reading sysfs has not returned in 10 s, so gvtd cannot know what the next pass would do", error.Message);
        }
        // Still stuck: a new caller waits for the read after it, and none starts beside it.
        var meanwhile = preview.NowAsync();
        lock (reads.Gates) Assert.Equal(1, reads.Started);

        reads.Gates[0].SetResult();
        reads.Until(started: 2);
        reads.Gates[1].SetResult();
        Assert.Same(reads.Answers[1], await meanwhile.WaitAsync(TimeSpan.FromSeconds(60))); // a hang guard
        Assert.Equal((2, 1), (reads.Started, reads.MostAtOnce));
    }

    [Fact]
    public async Task AFailedRead_FailsItsCallers_AndTheNextCallReadsAgain()
    {
        var fail = true;
        var preview = new PlanPreview(() => fail ? throw new IOException("the read broke") : Preview.Nothing, HeldReads.Bound, new FakeClock());

        var error = await Assert.ThrowsAsync<IOException>(() => preview.NowAsync());
        Assert.Equal("the read broke", error.Message);
        fail = false;
        Assert.Same(Preview.Nothing, await preview.NowAsync());
    }
}
