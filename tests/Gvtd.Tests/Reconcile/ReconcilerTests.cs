using Gvtd.Ownership;
using Gvtd.Planning;
using Gvtd.Reconcile;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.Reconcile;

/// <summary>Whole passes against the simulated kernel, read back through the real sysfs reader.</summary>
public sealed class ReconcilerTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Config(params (string Uuid, string Type)[] vgpus) =>
        "settings:\n  prune: owned\nvgpus:\n" + string.Concat(vgpus.Select(v => VGpu(v.Uuid, v.Type, "00:02.0")));

    [Theory]
    [InlineData("truncated")]
    [InlineData("deleted")]
    [InlineData("a directory")]
    public async Task RunPassAsync_MainFileTruncatedDeletedOrADirectory_KeepsEveryOwnedDevice(string what)
    {
        var host = new SimulatedHost(_dir);
        host.Configure(Config((U1, "i915-GVTg_V5_4"), (U2, "i915-GVTg_V5_8")));
        await host.PassAsync();
        var before = host.TreeSnapshot();

        File.Delete(host.ConfigPath);
        if (what == "truncated") File.WriteAllText(host.ConfigPath, "");
        if (what == "a directory") Directory.CreateDirectory(host.ConfigPath);
        Assert.False(host.Store.Reload());
        var result = await host.PassAsync(explicitRequest: true);

        Assert.Equal((0, 0), (result.Created, result.Removed));
        Assert.Equal(before, host.TreeSnapshot());
        Assert.Equal([U1, U2], host.Store.Current!.VGpus.Select(v => v.Uuid));
        Assert.Contains("vgpus: []", host.Reconciler.Current.ConfigError);
        Assert.Equal(DaemonState.Degraded, host.Reconciler.Current.State);
    }

    [Fact]
    public async Task RunPassAsync_WhenTheDevicesCannotBeListed_IsBlind_RemovingAndForgettingNothing()
    {
        var host = new SimulatedHost(_dir);
        host.Configure(Config((U1, "i915-GVTg_V5_4"), (U2, "i915-GVTg_V5_8")));
        await host.PassAsync();
        host.Ledger.Intend([U3]); // and a create a crash interrupted
        host.Configure(Config()); // neither is declared any more: a seeing pass would remove both
        var devices = host.Core.Root.MdevDevices;
        Directory.Move(devices, devices + ".hidden");
        File.WriteAllText(devices, ""); // listing it fails (ENOTDIR; EACCES or EIO on a real host)
        var before = host.TreeSnapshot();

        var result = await host.PassAsync(explicitRequest: true);

        Assert.Equal((0, 0), (result.Created, result.Removed));
        Assert.Equal(before, host.TreeSnapshot());
        Assert.Equal([U1, U2], host.Ledger.Owned.Order());
        Assert.Equal([U3], host.Ledger.Creating);
        Assert.Equal(DaemonState.Degraded, host.Reconciler.Current.State);
        Assert.Contains($"cannot list {devices}", host.Reconciler.Current.Summary);

        File.Delete(devices);
        Directory.Move(devices + ".hidden", devices);
        result = await host.PassAsync(explicitRequest: true);

        Assert.Equal(2, result.Removed); // seeing again, it does what was asked
        Assert.Empty(host.Ledger.Owned);
        Assert.Empty(host.Ledger.Creating);
    }

    [Fact]
    public async Task RunPassAsync_RecordsEachCreateInTheLedgerBeforeWritingIt()
    {
        var host = new SimulatedHost(_dir);
        host.Configure(Config((U1, "i915-GVTg_V5_4"), (U2, "i915-GVTg_V5_8")));
        var onDiskAtWrite = new Dictionary<string, string>();
        host.Writer.BeforeWrite = (path, value) =>
        {
            if (path.EndsWith("/create")) onDiskAtWrite[value] = host.LedgerText;
        };

        await host.PassAsync();

        // Had gvtd been killed at any of these writes, a restart would find the intent.
        Assert.Equal([U1, U2], onDiskAtWrite.Keys.Order());
        Assert.All(onDiskAtWrite, w => Assert.Contains($"{w.Key} creating", w.Value));
        Assert.Equal([U1, U2], host.Ledger.Owned.Order());
        Assert.DoesNotContain("creating", host.LedgerText);
    }

    [Fact]
    public async Task RunPassAsync_WithALedgerTheDiskRefuses_CreatesStaysDegradedAndRecordsOnceItCan()
    {
        var state = _dir.Write("state", "the state directory cannot be made");
        var host = new SimulatedHost(_dir);
        host.Configure(Config((U1, "i915-GVTg_V5_4"), (U2, "i915-GVTg_V5_8")));

        var result = await host.PassAsync();

        Assert.Equal(2, result.Created);
        Assert.Equal(DaemonState.Degraded, host.Reconciler.Current.State);
        Assert.Contains("cannot write", host.Reconciler.Current.LedgerError);
        File.Delete(state);
        await host.PassAsync();

        Assert.Equal(DaemonState.Idle, host.Reconciler.Current.State);
        Assert.Equal([U1, U2], OwnershipLedger.Load(_dir.Combine("state"), _ => { }).Owned.Order());
    }

    [Fact]
    public async Task RunPassAsync_AtStartWithNoValidState_RemovesNothing()
    {
        var host = new SimulatedHost(_dir);
        host.Configure(Config((U1, "i915-GVTg_V5_4")));
        await host.PassAsync();
        // A restart finds the file emptied: a new store has no valid state at all.
        var restarted = new SimulatedHost(_dir);
        File.WriteAllText(restarted.ConfigPath, "");

        Assert.False(restarted.Store.Reload());
        var result = await restarted.PassAsync(explicitRequest: true);

        Assert.Equal(0, result.Removed);
        Assert.Contains(U1, restarted.Devices);
    }

    [Fact]
    public async Task RunPassAsync_FirstPass_CreatesTheDeclaredDevices()
    {
        var host = new SimulatedHost(_dir);
        Assert.True(host.Configure(Config((U1, "i915-GVTg_V5_4"), (U2, "i915-GVTg_V5_8"))));

        var result = await host.PassAsync();

        Assert.Equal((2, 0, 0), (result.Created, result.Removed, result.Failed));
        var devices = host.Reader.Read().Devices;
        Assert.Equal(("i915-GVTg_V5_4", "i915-GVTg_V5_8"), (devices[U1].Type, devices[U2].Type));
        Assert.Equal([U1, U2], host.Ledger.Owned.Order());
        Assert.All(host.Reconciler.Current.VGpus, v => Assert.Equal(VGpuState.Active, v.State));
    }

    [Fact]
    public async Task RunPassAsync_RemoveStuckInKernel_ReportsRemovingAndKeepsTheLedgerUntilItReturns()
    {
        // Seen on Linux 6.1 with mtty: while a VFIO user holds the device fd, `echo 1 > remove` blocks and
        // the device has already left /sys/bus/mdev/devices, though it lives on under its parent.
        // The write timeout runs on a fake clock, moved only once the stuck remove is waited on: the
        // creates before it may take as long as a busy machine needs.
        var clock = new FakeClock();
        var host = new SimulatedHost(_dir, writeTimeout: TimeSpan.FromMilliseconds(200), time: clock);
        host.Configure(Config((U1, "i915-GVTg_V5_4"), (U2, "i915-GVTg_V5_8")));
        await host.PassAsync();
        using var gate = new ManualResetEventSlim(false);
        host.Writer.HeldRemoveGate = gate;
        host.Configure(Config((U1, "i915-GVTg_V5_4")));
        var returned = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Applier.LateWriteFinished += uuid => returned.TrySetResult(uuid);
        try
        {
            var pass = host.PassAsync();
            clock.WaitForLiveTimer("the remove of U2 waited on");
            clock.Advance(TimeSpan.FromMilliseconds(200));
            await pass.WaitAsync(TimeSpan.FromSeconds(60)); // the remove of U2 times out (a hang guard on real time)
            await host.PassAsync(); // and sysfs no longer lists U2

            Assert.DoesNotContain(U2, host.Devices);
            var stuck = Assert.Single(host.Reconciler.Current.VGpus, v => v.Uuid == U2);
            Assert.Equal((VGpuState.Removing, "i915-GVTg_V5_8", false), (stuck.State, stuck.Type, stuck.Declared));
            Assert.Contains(U2, host.Ledger.Owned);
        }
        finally
        {
            gate.Set();
        }

        // The kernel lets go: once the write has returned (a hang guard, not a verdict), the next pass settles it.
        Assert.Equal(U2, await returned.Task.WaitAsync(TimeSpan.FromSeconds(60)));
        await host.PassAsync();
        Assert.DoesNotContain(U2, host.Ledger.Owned);
        Assert.DoesNotContain(host.Reconciler.Current.VGpus, v => v.Uuid == U2);
    }

    [Fact]
    public async Task RunPassAsync_SecondPass_ChangesNothing()
    {
        var host = new SimulatedHost(_dir);
        host.Configure(Config((U1, "i915-GVTg_V5_4")));
        await host.PassAsync();
        var writes = host.Writer.Writes.Count;

        var result = await host.PassAsync();

        Assert.Equal((0, 0, 0), (result.Created, result.Removed, result.Failed));
        Assert.Equal(writes, host.Writer.Writes.Count);
    }

    [Fact]
    public async Task RunPassAsync_InvalidFileAfterValidOne_CreatesAndRemovesNothing()
    {
        var host = new SimulatedHost(_dir);
        host.Configure(Config((U1, "i915-GVTg_V5_4"), (U2, "i915-GVTg_V5_8")));
        await host.PassAsync();
        var tree = host.TreeSnapshot();
        var ledger = host.LedgerText;
        var writes = host.Writer.Writes.Count;
        // Drops U2 and adds U3, but has a typo: none of it may take effect.
        var invalid = Config((U1, "i915-GVTg_V5_4"), (U3, "i915-GVTg_V5_8")) + "    colour: blue\n";

        Assert.False(host.Configure(invalid));
        var result = await host.PassAsync(explicitRequest: true);

        Assert.Equal((0, 0), (result.Created, result.Removed));
        Assert.Equal(writes, host.Writer.Writes.Count);
        Assert.Equal(tree, host.TreeSnapshot());
        Assert.Equal(ledger, host.LedgerText);
        var (line, column) = YamlText.Locate(invalid, "colour");
        Assert.Contains($"{host.ConfigPath}:{line}:{column}", result.ConfigError);
        Assert.Contains($"{host.ConfigPath}:{line}:{column}", host.Reconciler.Current.ConfigError);
    }

    [Fact]
    public async Task RunPassAsync_InvalidFileAtFirstStart_DoesNotPruneOwnedDevices()
    {
        // A previous run created U1 and recorded it; the file no longer declares it, and is invalid.
        new SimulatedHost(_dir).CreateByHand(U1, "i915-GVTg_V5_4");
        _dir.Write("state/owned", U1 + "\n");
        var host = new SimulatedHost(_dir); // a fresh start: reopens the tree and reloads the ledger
        var tree = host.TreeSnapshot();
        var invalid = "settings:\n  prune: owned\n  interval: 5x\nvgpus: []\n";

        Assert.False(host.Configure(invalid));
        var result = await host.PassAsync(explicitRequest: true);

        Assert.Equal((0, 0), (result.Created, result.Removed));
        Assert.Empty(host.Writer.Writes);
        Assert.Equal(tree, host.TreeSnapshot());
        Assert.Equal([U1], host.Ledger.Owned);
        var (line, column) = YamlText.Locate(invalid, "5x");
        Assert.Contains($"{host.ConfigPath}:{line}:{column}", result.ConfigError);
    }

    [Fact]
    public async Task RunPassAsync_HandMadeDevice_SurvivesPruneOwned()
    {
        var host = new SimulatedHost(_dir);
        host.CreateByHand(U3, "i915-GVTg_V5_8");
        host.Configure(Config((U1, "i915-GVTg_V5_4")));

        await host.PassAsync();
        await host.PassAsync(explicitRequest: true);

        Assert.Equal([U1, U3], host.Devices);
        Assert.DoesNotContain(U3, host.Ledger.Owned);
        Assert.Equal(VGpuState.Undeclared, host.Reconciler.Current.VGpus.Single(v => v.Uuid == U3).State);
    }

    [Fact]
    public async Task RunPassAsync_DeclarationDropped_RemovesTheOwnedDevice()
    {
        var host = new SimulatedHost(_dir);
        host.Configure(Config((U1, "i915-GVTg_V5_4"), (U2, "i915-GVTg_V5_8")));
        await host.PassAsync();

        Assert.True(host.Configure(Config((U1, "i915-GVTg_V5_4"))));
        var result = await host.PassAsync(explicitRequest: true);

        Assert.Equal((0, 1), (result.Created, result.Removed));
        Assert.Equal([U1], host.Devices);
        Assert.Equal([U1], host.Ledger.Owned);
        Assert.DoesNotContain(U2, host.LedgerText);
    }

    [Fact]
    public async Task RunPassAsync_DeclarationDroppedWhileAVmTookTheDevice_KeepsIt_EvenWithAStaleCache()
    {
        Directory.CreateDirectory(_dir.Combine("dev", "vfio")); // vfio is loaded
        var host = new SimulatedHost(_dir);
        host.Configure(Config((U1, "i915-GVTg_V5_4")));
        await host.PassAsync();
        var group = host.Reader.Read().Devices[U1].IommuGroup;
        // A VM takes the device; nothing under dev/vfio is touched, so the cached scan says "free".
        Directory.CreateDirectory(_dir.Combine("proc", "4242", "fd"));
        File.CreateSymbolicLink(_dir.Combine("proc", "4242", "fd", "5"), $"/dev/vfio/{group}");
        Assert.False(host.Reader.Read().Devices[U1].InUse);

        host.Configure(Config());
        var result = await host.PassAsync();

        Assert.Equal(0, result.Removed);
        Assert.Contains(U1, host.Devices);
        var status = Assert.Single(host.Reconciler.Current.VGpus, v => v.Uuid == U1);
        Assert.True(status.InUse);
        Assert.Equal(VGpuState.Removing, status.State);
    }

    [Fact]
    public async Task RunPassAsync_FailedCreate_IsRetriedOnlyAfterBackoffOrAnExplicitPass()
    {
        var host = new SimulatedHost(_dir);
        host.Configure(Config((U1, "i915-GVTg_V5_4")));
        host.Writer.FailNextCreate.Add(U1);

        var first = await host.PassAsync();
        Assert.Equal((0, 1), (first.Created, first.Failed));
        Assert.Equal(1, host.Writer.CreatesOf(U1));

        var second = await host.PassAsync();
        Assert.Equal((0, 0), (second.Created, second.Failed));
        Assert.Equal(1, host.Writer.CreatesOf(U1));
        Assert.Empty(host.Devices);
        var status = host.Reconciler.Current.VGpus.Single(v => v.Uuid == U1);
        Assert.Equal(VGpuState.Failed, status.State);
        Assert.Contains("invalid argument", status.LastError);
        Assert.Contains("retrying in", Assert.Single(host.Reconciler.Current.Plan).Reason);
        // Plan() (D-Bus) asks the same question fresh, and gets the same answer.
        var planned = Assert.Single(host.Reconciler.PlanNow().VGpus);
        Assert.Equal((ActionKind.Blocked, BlockReason.RetryLater), (planned.Kind, planned.Blocked));

        var third = await host.PassAsync(explicitRequest: true);
        Assert.Equal(1, third.Created);
        Assert.Equal(2, host.Writer.CreatesOf(U1));
        Assert.Equal([U1], host.Devices);
    }

    [Fact]
    public async Task RunPassAsync_FailedRemoveOfAnUndeclaredDevice_BacksOffLikeADeclaredOne()
    {
        var host = new SimulatedHost(_dir);
        host.Configure(Config((U1, "i915-GVTg_V5_4")));
        await host.PassAsync();
        host.Configure(Config()); // no longer declared: gvtd made it, so prune: owned removes it
        host.Writer.BeforeWrite = (path, _) =>
        {
            if (path.EndsWith("/remove")) throw new Gvtd.Sysfs.KernelWriteException(path, Gvtd.Sysfs.Errno.EBUSY, "Device or resource busy");
        };
        int Removes() => host.Writer.Writes.Count(w => w.Path.EndsWith("/remove"));

        Assert.Equal(1, (await host.PassAsync()).Failed);
        Assert.Equal(1, Removes());
        Assert.NotNull(host.Reconciler.NextRetry);

        var second = await host.PassAsync();
        Assert.Equal(0, second.Failed);
        Assert.Equal(1, Removes());
        var planned = Assert.Single(host.Reconciler.Current.Plan);
        Assert.Equal((ActionKind.Blocked, BlockReason.RetryLater), (planned.Kind, planned.Blocked));
        Assert.Contains("retrying in", planned.Reason);

        // Once the device is gone the failure no longer applies, and neither does its backoff.
        host.Writer.BeforeWrite = null;
        Assert.Equal(1, (await host.PassAsync(explicitRequest: true)).Removed);
        Assert.Null(host.Reconciler.NextRetry);
    }

    [Fact]
    public async Task RunPassAsync_FailedDisableOfAnUndeclaredPf_BacksOffLikeADeclaredOne()
    {
        const string pf = Gvtd.Simulation.SimulatedSriovGpu.PciAddress;
        var host = new SimulatedHost(_dir, gpu: Gvtd.Simulation.SimulatedGpu.Gen12);
        host.Configure($"sriov:\n  - pf: \"{pf}\"\n    vfs: 2\n");
        await host.PassAsync();
        host.Configure("vgpus: []\n"); // no longer declared: gvtd enabled its VFs, so they go
        host.Writer.BeforeWrite = (path, value) =>
        {
            if (path.EndsWith("/sriov_numvfs") && value == "0") throw new Gvtd.Sysfs.KernelWriteException(path, Gvtd.Sysfs.Errno.EIO, "Input/output error");
        };
        int Disables() => host.Writer.Writes.Count(w => w.Path.EndsWith("/sriov_numvfs") && w.Value == "0");

        Assert.Equal(1, (await host.PassAsync()).Failed);
        Assert.Equal(1, Disables());
        Assert.NotNull(host.Reconciler.NextRetry);

        var second = await host.PassAsync();
        Assert.Equal(0, second.Failed);
        Assert.Equal(1, Disables());
        var planned = Assert.Single(host.Reconciler.Current.FunctionPlan);
        Assert.Equal((FunctionActionKind.Blocked, BlockReason.RetryLater), (planned.Kind, planned.Blocked));
    }

    [Fact]
    public async Task NextRetry_WhileAWriteIsStuckInTheKernel_IsNotNow_TheWriteReturningBringsThePass()
    {
        const string pf = Gvtd.Simulation.SimulatedSriovGpu.PciAddress;
        var clock = new FakeClock();
        var host = new SimulatedHost(_dir, writeTimeout: TimeSpan.FromSeconds(10), time: clock, gpu: Gvtd.Simulation.SimulatedGpu.Gen12);
        host.Configure($"sriov:\n  - pf: \"{pf}\"\n    vfs: 2\n");
        await host.PassAsync();
        host.Configure("vgpus: []\n");
        using var gate = new ManualResetEventSlim();
        host.Writer.BeforeWrite = (path, value) => { if (path.EndsWith("/sriov_numvfs") && value == "0") gate.Wait(); };

        var pass = host.PassAsync();
        clock.WaitFor(() =>
        {
            if (pass.IsCompleted) return true;
            if (clock.LiveTimers > 0) clock.Advance(TimeSpan.FromSeconds(10));
            return false;
        }, "the pass after the disable timed out");
        await pass;
        Assert.True(host.Applier.IsBusy(pf));
        Assert.Equal(BlockReason.RetryLater, Assert.Single(host.Reconciler.Current.FunctionPlan).Blocked);

        // Retrying now would only find the same write still stuck, pass after pass.
        Assert.Null(host.Reconciler.NextRetry);
        gate.Set();
    }
}
