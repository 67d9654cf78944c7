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
        using var reads = new OpenCounter(Path.Combine(SysfsRoot.TypesDir(host.Reader.Read().Parents[SimulatedHost.Gpu].SysfsPath), "i915-GVTg_V5_4"), "available_instances");

        // All released at once, from the pool, as the bus hands them over.
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = Enumerable.Range(0, Calls).Select(_ => Task.Run(async () =>
        {
            await go.Task;
            return await Task.Run(() => host.Reconciler.PlanNow());
        })).ToList();
        go.SetResult();
        var answers = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard

        Assert.All(answers, a => Assert.Equal([U1, U2], a.VGpus.Select(v => v.Uuid).Order()));
        reads.Settle();
        Assert.True(reads.Opens * 10 <= Calls, $"{Calls} concurrent plans read sysfs {reads.Opens} times");
    }
}
