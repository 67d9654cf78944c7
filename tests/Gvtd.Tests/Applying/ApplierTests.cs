using System.Collections.Concurrent;
using Gvtd.Applying;
using Gvtd.Planning;
using Gvtd.Sysfs;
using Gvtd.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using static Gvtd.Tests.Support.States;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.Applying;

public sealed class ApplierTests
{
    private static readonly MdevParent Mtty = Parent("mtty", ("mtty-1", 24), ("mtty-2", 12));
    private static readonly Dictionary<string, MdevParent> Parents = new() { ["mtty"] = Mtty };
    private readonly FakeWriter _writer = new();
    /// <summary>Real time a test waits for the applier before calling it hung: a hang guard, not a verdict.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    private Applier NewApplier(TimeSpan? timeout = null) =>
        new(_writer, timeout ?? TimeSpan.FromSeconds(60), TimeProvider.System, NullLogger<Applier>.Instance);

    private static PlannedAction CreateAction(string uuid, string type = "mtty-1") =>
        new(ActionKind.Create, uuid, type, "mtty", "declared but not present", Want(uuid, type, "mtty"));

    private static PlannedAction RemoveAction(string uuid) =>
        new(ActionKind.Remove, uuid, "mtty-1", "mtty", "no longer declared", Observed: Device(uuid, "mtty", "mtty-1"));

    [Theory]
    [InlineData(Errno.EEXIST, "already used by another mediated device")]
    [InlineData(Errno.ENOSPC, "no capacity left for type mtty-1 on mtty")]
    [InlineData(Errno.EINVAL, "invalid argument")]
    [InlineData(Errno.ENODEV, "parent mtty went away")]
    [InlineData(Errno.EACCES, "permission denied")]
    public async Task ApplyAsync_CreateRefused_GivesAPlainSentence(Errno errno, string sentence)
    {
        _writer.Fail = (_, _) => errno;

        var outcome = Assert.Single(await NewApplier().ApplyAsync([CreateAction(U1)], Parents));

        Assert.Equal(OutcomeKind.Failed, outcome.Kind);
        Assert.Contains(sentence, outcome.Error);
        Assert.DoesNotContain(((int)errno).ToString(), outcome.Error);
        Assert.DoesNotContain("Exception", outcome.Error);
    }

    [Fact]
    public async Task ApplyAsync_Create_WritesTheUuidToTheTypesCreateFile()
    {
        var outcome = Assert.Single(await NewApplier().ApplyAsync([CreateAction(U1, "mtty-2")], Parents));

        Assert.Equal(OutcomeKind.Created, outcome.Kind);
        Assert.Equal([(Path.Combine(Mtty.SysfsPath, "mdev_supported_types", "mtty-2", "create"), U1)], _writer.Writes);
    }

    [Fact]
    public async Task ApplyAsync_Remove_WritesOneToTheDevicesRemoveFile()
    {
        var action = RemoveAction(U1);

        var outcome = Assert.Single(await NewApplier().ApplyAsync([action], Parents));

        Assert.Equal(OutcomeKind.Removed, outcome.Kind);
        Assert.Equal([(Path.Combine(action.Observed!.SysfsPath, "remove"), "1")], _writer.Writes);
    }

    [Fact]
    public async Task ApplyAsync_RemoveOfAlreadyGoneDevice_CountsAsRemoved()
    {
        _writer.Fail = (_, _) => Errno.ENODEV;

        Assert.Equal(OutcomeKind.Removed, Assert.Single(await NewApplier().ApplyAsync([RemoveAction(U1)], Parents)).Kind);
    }

    [Fact]
    public async Task ApplyAsync_RemoveBusy_SaysTheDeviceIsBusy()
    {
        _writer.Fail = (_, _) => Errno.EBUSY;

        var outcome = Assert.Single(await NewApplier().ApplyAsync([RemoveAction(U1)], Parents));

        Assert.Equal(OutcomeKind.Failed, outcome.Kind);
        Assert.Contains($"device {U1} is busy", outcome.Error);
    }

    [Fact]
    public async Task ApplyAsync_Recreate_RemovesThenCreates()
    {
        var action = new PlannedAction(ActionKind.Recreate, U1, "mtty-2", "mtty", "exists as mtty-1",
            Want(U1, "mtty-2", "mtty"), Device(U1, "mtty", "mtty-1"));

        var outcome = Assert.Single(await NewApplier().ApplyAsync([action], Parents));

        Assert.Equal(OutcomeKind.Created, outcome.Kind);
        Assert.Equal([Path.Combine(action.Observed!.SysfsPath, "remove"), SysfsRoot.CreateFile(Mtty.SysfsPath, "mtty-2")],
            _writer.Writes.Select(w => w.Path));
    }

    [Fact]
    public async Task ApplyAsync_OneFailure_DoesNotStopTheOthers()
    {
        _writer.Fail = (_, value) => value == U2 ? Errno.ENOSPC : null;

        var outcomes = await NewApplier().ApplyAsync([CreateAction(U1), CreateAction(U2), CreateAction(U3)], Parents);

        Assert.Equal([OutcomeKind.Created, OutcomeKind.Failed, OutcomeKind.Created], outcomes.Select(o => o.Kind));
        Assert.Equal(3, _writer.Writes.Count);
    }

    [Fact]
    public async Task ApplyAsync_KeepAndBlocked_WriteNothing()
    {
        var keep = new PlannedAction(ActionKind.Keep, U1, "mtty-1", "mtty", "present as declared");
        var blocked = new PlannedAction(ActionKind.Blocked, U2, "mtty-1", "mtty", "no capacity");

        Assert.Empty(await NewApplier().ApplyAsync([keep, blocked], Parents));
        Assert.Empty(_writer.Writes);
    }

    [Fact]
    public async Task ApplyAsync_WriteBlocksPastTimeout_TimesOutAndKeepsTheDeviceBusy()
    {
        using var gate = new ManualResetEventSlim(false);
        _writer.Gate = gate;
        // The timeout runs on a fake clock the test moves once the write is waited on: it times
        // out because the kernel holds it, never because the machine was slow.
        var clock = new FakeClock();
        var applier = new Applier(_writer, TimeSpan.FromMilliseconds(200), clock, NullLogger<Applier>.Instance);
        var late = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        applier.LateWriteFinished += uuid => late.TrySetResult(uuid);
        try
        {
            var apply = applier.ApplyAsync([RemoveAction(U1)], Parents);
            clock.WaitForLiveTimer("the remove of U1 waited on");
            clock.Advance(TimeSpan.FromMilliseconds(200));
            var first = Assert.Single(await apply.WaitAsync(HangGuard));
            Assert.Equal(OutcomeKind.TimedOut, first.Kind);
            Assert.True(applier.IsBusy(U1));

            var second = Assert.Single(await applier.ApplyAsync([RemoveAction(U1)], Parents).WaitAsync(HangGuard));
            Assert.Equal(OutcomeKind.Pending, second.Kind);
            Assert.Single(_writer.Writes);
            Assert.False(late.Task.IsCompleted);
        }
        finally
        {
            gate.Set();
        }

        Assert.Equal(U1, await late.Task.WaitAsync(HangGuard));
        Assert.False(applier.IsBusy(U1));
    }

    [Fact]
    public async Task ApplyAsync_OneWriteStuck_OtherDevicesStillProceed()
    {
        using var gate = new ManualResetEventSlim(false);
        var blocking = new BlockingFor(_writer, U1, gate);
        // Fake time: the clock moves once, past U1's timeout, and never again, so U2's create may
        // take as long as a busy machine needs and still count as done.
        var clock = new FakeClock();
        var applier = new Applier(blocking, TimeSpan.FromMilliseconds(200), clock, NullLogger<Applier>.Instance);
        try
        {
            var apply = applier.ApplyAsync([CreateAction(U1), CreateAction(U2)], Parents);
            clock.WaitForLiveTimer("the create of U1 waited on");
            clock.Advance(TimeSpan.FromMilliseconds(200));
            var outcomes = await apply.WaitAsync(HangGuard);

            Assert.Equal([OutcomeKind.TimedOut, OutcomeKind.Created], outcomes.Select(o => o.Kind));
        }
        finally
        {
            gate.Set();
        }
    }

    [Fact]
    public async Task ApplyAsync_WritesRunOnThreadsOfTheirOwn_NotThePool()
    {
        var onPool = new ConcurrentBag<bool>();
        var applier = new Applier(new Recording(_writer, () => onPool.Add(Thread.CurrentThread.IsThreadPoolThread)),
            TimeSpan.FromSeconds(60), TimeProvider.System, NullLogger<Applier>.Instance);

        await applier.ApplyAsync([CreateAction(U1), RemoveAction(U2)], Parents);

        Assert.Equal([false, false], onPool);
    }

    [Fact]
    public async Task A_write_that_timed_out_keeps_its_device_busy_though_a_later_write_to_it_returns()
    {
        using var gate = new ManualResetEventSlim();
        var clock = new FakeClock();
        var applier = new Applier(new BlockingFor(_writer, "held", gate), TimeSpan.FromSeconds(10), clock, NullLogger<Applier>.Instance);
        var late = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        applier.LateWriteFinished += key => late.TrySetResult(key);

        var stuck = applier.WriteTimedAsync("pf", "/sys/a", "held");
        clock.WaitForLiveTimer("the held write waited on");
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.False(await stuck.WaitAsync(HangGuard));
        Assert.True(await applier.WriteTimedAsync("pf", "/sys/b", "fine").WaitAsync(HangGuard));

        Assert.True(applier.IsBusy("pf"), "the device was not busy while its first write was still stuck in the kernel");
        gate.Set();
        Assert.Equal("pf", await late.Task.WaitAsync(HangGuard));
        Assert.False(applier.IsBusy("pf"));
    }

    private sealed class Recording(FakeWriter inner, Action onWrite) : IKernel
    {
        public void Write(string path, string value)
        {
            onWrite();
            inner.Write(path, value);
        }
    }

    /// <summary>Holds only the writes of one UUID.</summary>
    private sealed class BlockingFor(FakeWriter inner, string uuid, ManualResetEventSlim gate) : IKernel
    {
        public void Write(string path, string value)
        {
            if (value == uuid) gate.Wait();
            inner.Write(path, value);
        }
    }
}
