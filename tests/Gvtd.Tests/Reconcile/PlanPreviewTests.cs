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
        var preview = new PlanPreview(host.Reconciler);
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

    /// <summary>A preview whose reads wait for the test: each read is numbered, and holds until let go.</summary>
    private sealed class HeldReads
    {
        public long Published;
        public int Started, Running, MostAtOnce;
        public readonly List<TaskCompletionSource> Gates = [];

        public PlanPreview Preview() => new(() => Interlocked.Read(ref Published), Read);

        private Preview Read()
        {
            TaskCompletionSource gate;
            lock (Gates)
            {
                Started++;
                MostAtOnce = Math.Max(MostAtOnce, ++Running);
                Gates.Add(gate = new TaskCompletionSource());
            }
            gate.Task.Wait(TimeSpan.FromSeconds(60)); // a hang guard
            lock (Gates) Running--;
            return new Preview(null, null, [], []);
        }

        public void Until(int started) => SpinWait.SpinUntil(() => { lock (Gates) return Started >= started; }, TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task ACallAfterAPublication_GetsANewerRead_AndReadsNeverOverlap()
    {
        var reads = new HeldReads();
        var preview = reads.Preview();

        var first = preview.NowAsync();
        reads.Until(started: 1);
        var joined = preview.NowAsync();
        // A pass publishes while the read is in flight: what began before it may be older than it.
        Interlocked.Increment(ref reads.Published);
        var after = preview.NowAsync();
        var alsoAfter = preview.NowAsync();

        Assert.Same(first, joined);
        Assert.NotSame(first, after);
        Assert.Same(after, alsoAfter);
        Assert.False(first.IsCompleted); // handed over, not waited for: the caller's thread goes on
        lock (reads.Gates) Assert.Equal(1, reads.Started); // the next read waits for the one in flight

        reads.Gates[0].SetResult();
        await first.WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard
        reads.Until(started: 2);
        Assert.False(after.IsCompleted);
        reads.Gates[1].SetResult();
        await after.WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard
        Assert.Equal((2, 1), (reads.Started, reads.MostAtOnce));

        // Nothing in flight: the next call reads again, for a plan as of now.
        var later = preview.NowAsync();
        reads.Until(started: 3);
        reads.Gates[2].SetResult();
        await later.WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard
        Assert.NotSame(after, later);
    }

    [Fact]
    public async Task AFailedRead_FailsItsCallers_AndTheNextCallReadsAgain()
    {
        var fail = true;
        var preview = new PlanPreview(() => 0, () => fail ? throw new IOException("the read broke") : Preview.Nothing);

        var error = await Assert.ThrowsAsync<IOException>(() => preview.NowAsync());
        Assert.Equal("the read broke", error.Message);
        fail = false;
        Assert.Same(Preview.Nothing, await preview.NowAsync());
    }
}
