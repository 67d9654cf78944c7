using Gvtd.Applying;
using Gvtd.Planning;
using Gvtd.Simulation;
using Gvtd.Sysfs;
using Gvtd.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gvtd.Tests.Sriov;

/// <summary>
/// The SR-IOV writes against the simulated Gen12 iGPU: what the kernel answers, in plain words, and
/// a disable that blocks (as `echo 0 > sriov_numvfs` does while a VM holds a VF's device).
/// </summary>
public sealed class FunctionApplierTests : IDisposable
{
    private const string Pf = SimulatedSriovGpu.PciAddress;
    private readonly TempDir _dir = new();
    private readonly SimulatedMdevCore _core;

    public FunctionApplierTests() => _core = SimulatedMdevCore.Open(_dir.Combine("sys"), SimulatedGpu.Gen12);

    public void Dispose() => _dir.Dispose();

    private PhysicalFunction Observed()
    {
        using var users = new VfioUsers(_dir.Combine("proc"), _dir.Combine("dev"));
        Directory.CreateDirectory(_dir.Combine("proc"));
        return new SysfsReader(_core.Root, users).Read(functions: new HashSet<string> { Pf }).Sriov.Functions[Pf];
    }

    private FunctionAction Action(FunctionActionKind kind, int vfs) =>
        new(kind, Pf, "test", Yaml.Load(_dir, $"sriov:\n  - pf: \"{Pf}\"\n    vfs: {vfs}\n").Functions[0], Observed());

    [Fact]
    public async Task A_disable_the_kernel_holds_times_out_keeps_the_pf_busy_and_says_when_it_returns()
    {
        var applier = new Applier(_core, TimeSpan.FromSeconds(60), TimeProvider.System, NullLogger<Applier>.Instance);
        await new FunctionApplier(applier, _core.Root, NullLogger<FunctionApplier>.Instance).ApplyAsync([Action(FunctionActionKind.Enable, 2)]);
        Assert.Equal(2, Observed().NumVfs);

        using var gate = new ManualResetEventSlim();
        using var held = new ManualResetEventSlim();
        var holding = new GateKernel(_core, gate, held);
        // The timeout runs on a fake clock, moved only once the held write is waited on: the writes
        // before it may take as long as a busy machine needs.
        var clock = new FakeClock();
        var slow = new Applier(holding, TimeSpan.FromMilliseconds(200), clock, NullLogger<Applier>.Instance);
        var finished = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        slow.LateWriteFinished += key => finished.TrySetResult(key);
        var functions = new FunctionApplier(slow, _core.Root, NullLogger<FunctionApplier>.Instance);

        var reset = functions.ApplyAsync([Action(FunctionActionKind.Reset, 3)]);
        clock.WaitFor(() => held.IsSet && clock.LiveTimers > 0, "the disable held by the kernel and waited on");
        clock.Advance(TimeSpan.FromMilliseconds(200));
        var outcome = Assert.Single(await reset.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(OutcomeKind.TimedOut, outcome.Kind);
        Assert.Contains("has not finished disabling its VFs", outcome.Error);
        Assert.True(slow.IsBusy(Pf));
        // A second change of the same PF does not pile up behind the first.
        Assert.Equal(OutcomeKind.Pending, Assert.Single(await functions.ApplyAsync([Action(FunctionActionKind.Enable, 3)])).Kind);

        gate.Set();
        Assert.Equal(Pf, await finished.Task.WaitAsync(TimeSpan.FromSeconds(60))); // a hang guard
        Assert.False(slow.IsBusy(Pf));
        Assert.Equal(0, Observed().NumVfs);
    }

    [Fact]
    public async Task Without_a_pf_driver_the_kernel_answer_is_explained()
    {
        _core.UnbindPf();
        var applier = new Applier(_core, TimeSpan.FromSeconds(60), TimeProvider.System, NullLogger<Applier>.Instance);
        var outcome = Assert.Single(await new FunctionApplier(applier, _core.Root, NullLogger<FunctionApplier>.Instance).ApplyAsync([Action(FunctionActionKind.Enable, 2)]));
        Assert.Equal(OutcomeKind.Failed, outcome.Kind);
        Assert.Equal($"no driver is bound to {Pf}, and the kernel changes no VF count without one; gvtd sets it up when the driver binds", outcome.Error);
    }

    [Fact]
    public async Task A_vf_the_driver_does_not_take_is_reported_though_drivers_probe_said_yes()
    {
        var applier = new Applier(new NoVfioPci(_core), TimeSpan.FromSeconds(60), TimeProvider.System, NullLogger<Applier>.Instance);
        var outcome = Assert.Single(await new FunctionApplier(applier, _core.Root, NullLogger<FunctionApplier>.Instance).ApplyAsync([Action(FunctionActionKind.Enable, 2)]));
        Assert.Equal(OutcomeKind.Failed, outcome.Kind);
        Assert.Contains("the kernel did not bind VF 0000:00:02.1 to vfio-pci (drivers_probe reports success even when the probe fails)", outcome.Error);
        Assert.Contains("IOMMU", outcome.Error);
    }

    /// <summary>
    /// Runs <paramref name="action"/> with the first write to a file named <paramref name="file"/> held by the
    /// kernel until the write timeout (on a fake clock) has gone by; returns the outcome, the applier
    /// (still holding the write) and what was written, then lets the write return.
    /// </summary>
    private async Task<(FunctionOutcome Outcome, bool BusyWhileHeld, List<string> Written, bool BusyAfter)> WithHeldWriteAsync(string file, FunctionAction action)
    {
        using var gate = new ManualResetEventSlim();
        using var held = new ManualResetEventSlim();
        var holding = new HoldFirst(_core, file, gate, held);
        var clock = new FakeClock();
        var applier = new Applier(holding, TimeSpan.FromSeconds(10), clock, NullLogger<Applier>.Instance);
        var finished = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        applier.LateWriteFinished += key => finished.TrySetResult(key);
        var apply = new FunctionApplier(applier, _core.Root, NullLogger<FunctionApplier>.Instance).ApplyAsync([action]);
        clock.WaitFor(() => held.IsSet, $"the write to {file} held by the kernel");
        // Whatever the applier waits on now is the held write (a timer of a write before it may
        // still be going away): each wait seen is let run out, until the apply ends.
        clock.WaitFor(() =>
        {
            if (apply.IsCompleted) return true;
            if (clock.LiveTimers > 0) clock.Advance(TimeSpan.FromSeconds(10));
            return false;
        }, $"the apply after the write to {file} timed out");
        var outcome = Assert.Single(await apply.WaitAsync(TimeSpan.FromSeconds(60))); // a hang guard
        var busy = applier.IsBusy(Pf);
        var written = holding.Written.ToList();
        gate.Set();
        Assert.Equal(Pf, await finished.Task.WaitAsync(TimeSpan.FromSeconds(60))); // a hang guard
        return (outcome, busy, written, applier.IsBusy(Pf));
    }

    [Fact]
    public async Task A_stuck_write_keeps_the_pf_busy_and_stops_its_sequence_though_later_writes_would_return()
    {
        Assert.True(Observed().AutoProbe);
        var (outcome, busy, written, busyAfter) = await WithHeldWriteAsync("sriov_drivers_autoprobe", Action(FunctionActionKind.Enable, 2));

        Assert.Equal(OutcomeKind.TimedOut, outcome.Kind);
        Assert.Contains("has not finished turning off sriov_drivers_autoprobe of " + Pf, outcome.Error);
        Assert.Contains("may be waiting for a VM to let go", outcome.Error);
        Assert.True(busy, "the PF was not busy while its autoprobe write was still stuck in the kernel");
        // Nothing was written behind the stuck write: it would only pile up in the kernel.
        Assert.Equal(["sriov_drivers_autoprobe"], written);
        Assert.False(busyAfter);
    }

    [Theory]
    [InlineData("driver_override")]
    [InlineData("drivers_probe")]
    public async Task A_bind_write_that_has_not_returned_is_pending_not_a_driver_that_did_not_bind(string file)
    {
        var (outcome, busy, written, busyAfter) = await WithHeldWriteAsync(file, Action(FunctionActionKind.Enable, 2));

        Assert.Equal(OutcomeKind.TimedOut, outcome.Kind);
        Assert.Contains($"has not finished binding VF 0000:00:02.1 to vfio-pci ({file})", outcome.Error);
        Assert.DoesNotContain("IOMMU", outcome.Error);
        Assert.DoesNotContain("did not bind", outcome.Error);
        Assert.True(busy, $"the PF was not busy while its {file} write was still stuck in the kernel");
        Assert.Equal(file, written[^1]);
        Assert.False(busyAfter);
    }

    [Fact]
    public async Task The_first_vf_that_fails_to_bind_does_not_stop_the_others()
    {
        var applier = new Applier(new NoVfioPci(_core, "0000:00:02.1"), TimeSpan.FromSeconds(60), TimeProvider.System, NullLogger<Applier>.Instance);
        var outcome = Assert.Single(await new FunctionApplier(applier, _core.Root, NullLogger<FunctionApplier>.Instance).ApplyAsync([Action(FunctionActionKind.Enable, 3)]));

        Assert.Equal(OutcomeKind.Failed, outcome.Kind);
        Assert.Contains("the kernel did not bind VF 0000:00:02.1 to vfio-pci", outcome.Error);
        Assert.Equal(["", "vfio-pci", "vfio-pci"], Observed().Vfs.Select(v => v.Driver));
    }

    /// <summary>Holds the first write to a file of that name until the gate opens; records the names of the files written.</summary>
    private sealed class HoldFirst(IKernel inner, string file, ManualResetEventSlim gate, ManualResetEventSlim held) : IKernel
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Written { get; } = new();

        public void Write(string path, string value)
        {
            Written.Enqueue(Path.GetFileName(path));
            if (Path.GetFileName(path) == file && !held.IsSet)
            {
                held.Set();
                gate.Wait();
            }
            inner.Write(path, value);
        }
    }

    /// <summary>Holds writes of 0 to sriov_numvfs until the gate opens, as the kernel does while a VM holds a VF.</summary>
    /// <summary>Holds disables (sriov_numvfs = 0) until the gate opens, and says when one is held.</summary>
    private sealed class GateKernel(IKernel inner, ManualResetEventSlim gate, ManualResetEventSlim held) : IKernel
    {
        public void Write(string path, string value)
        {
            if (path.EndsWith("/sriov_numvfs", StringComparison.Ordinal) && value == "0")
            {
                held.Set();
                gate.Wait();
            }
            inner.Write(path, value);
        }
    }

    /// <summary>drivers_probe succeeds and binds nothing (for <paramref name="only"/>, or every VF), as when vfio-pci's probe fails (no IOMMU).</summary>
    private sealed class NoVfioPci(IKernel inner, string? only = null) : IKernel
    {
        public void Write(string path, string value)
        {
            if (!path.EndsWith("/drivers_probe", StringComparison.Ordinal) || (only is not null && value != only)) inner.Write(path, value);
        }
    }
}
