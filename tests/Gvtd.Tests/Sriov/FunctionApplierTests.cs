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

    /// <summary>drivers_probe succeeds and binds nothing, as when vfio-pci's probe fails (no IOMMU).</summary>
    private sealed class NoVfioPci(IKernel inner) : IKernel
    {
        public void Write(string path, string value)
        {
            if (!path.EndsWith("/drivers_probe", StringComparison.Ordinal)) inner.Write(path, value);
        }
    }
}
