using System.Diagnostics;
using Gvtd.Reconcile;
using Gvtd.Systemd;
using Gvtd.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.Reconcile;

/// <summary>
/// Passes driven by the kernel's events, on the simulated GPU, with an interval of an hour so the
/// interval cannot be what fixes things. Latencies are read on gvtd's own (fake) clock.
/// </summary>
public sealed class WorkerEventTests : IAsyncLifetime
{
    private static readonly string[] Uuids = [.. Enumerable.Range(1, 8).Select(i => $"11111111-2222-3333-4444-5555555555b{i}")];
    private readonly TempDir _dir = new();
    private readonly FakeClock _clock = new();
    private SimulatedHost _host = null!;
    private ReconcileWorker _worker = null!;
    private int _passes;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir.Combine("dev", "vfio")); // vfio is loaded: gvtd watches it
        _host = new SimulatedHost(_dir, time: _clock);
        _clock.Follow(_host.Reconciler);
        _dir.Write(MainFile, "settings:\n  interval: 1h\nvgpus:\n" + string.Concat(Uuids.Select(u => VGpu(u, "i915-GVTg_V5_8", "00:02.0"))));
        _host.Reconciler.Changed += (_, result) => { if (result is not null) Interlocked.Increment(ref _passes); };
        _worker = new ReconcileWorker(_host.Store, _host.Reconciler, _host.Applier, _host.Writer, _host.VfioUsers, new ServiceManager(null, null), _clock, NullLogger<ReconcileWorker>.Instance);
        _clock.Follow(_worker, _host.Core);
        // Off xunit's context: the worker's continuations must not queue behind a test thread that
        // is busy moving the clock.
        await Task.Run(() => _worker.StartAsync(CancellationToken.None)); // returns after the first pass
        Assert.Equal(Uuids.Order(), _host.Devices);
        _clock.AdvanceBy(TimeSpan.FromSeconds(2)); // the uevents of its own creates settle, and the worker waits
    }

    public async Task DisposeAsync()
    {
        await _worker.StopAsync(CancellationToken.None);
        _worker.Dispose();
        _dir.Dispose();
    }

    /// <summary>
    /// Opens or closes a file in /dev/vfio and waits (in real time, a hang guard) until the inotify
    /// watch has handed the worker its request: that thread is one the clock cannot see.
    /// </summary>
    private void Seen(Action touch, string what)
    {
        var handed = _worker.RequestsHanded;
        touch();
        _clock.WaitFor(() => _worker.RequestsHanded > handed, $"the /dev/vfio watch to report {what}");
    }

    [Fact]
    public void TheDriverUnloadedAndLoadedAgain_TheDevicesAreBackWithinTwoSeconds()
    {
        _host.Core.Unplug();
        Assert.Empty(_host.Devices);

        _host.Core.Replug();

        _clock.AdvanceUntil(() => _host.Devices.SequenceEqual(Uuids.Order()), TimeSpan.FromSeconds(2), "the vGPUs after the parent came back");
        Assert.Equal(Uuids.Order(), _host.Ledger.Owned.Order()); // still gvtd's
    }

    [Fact]
    public void EveryDeviceRemovedByHandAtOnce_IsBackWithinTwoSeconds_InAtMostThreePasses()
    {
        var before = _passes;

        foreach (var uuid in Uuids)
            _host.Core.Write(Path.Combine(_host.Reader.Read().Devices[uuid].SysfsPath, "remove"), "1");

        _clock.AdvanceUntil(() => _host.Devices.SequenceEqual(Uuids.Order()), TimeSpan.FromSeconds(2), "the vGPUs removed by hand");
        _clock.AdvanceBy(TimeSpan.FromSeconds(2)); // let any pass still queued run, then count
        Assert.InRange(_passes - before, 1, 3);
    }

    [Fact]
    public void ADeviceKeptForAVm_GoesWhenTheVmLetsGo_WithoutWaitingForTheInterval()
    {
        var held = Uuids[0];
        var group = _host.Reader.Read().Devices[held].IommuGroup!.Value;
        var node = _dir.Combine("dev", "vfio", group.ToString());
        Directory.CreateDirectory(_dir.Combine("proc", "4242", "fd"));
        File.CreateSymbolicLink(_dir.Combine("proc", "4242", "fd", "5"), $"/dev/vfio/{group}");
        Seen(() => File.WriteAllText(node, ""), "the VM opening its group"); // the watch sees it
        _dir.Write(MainFile, "settings:\n  interval: 1h\nvgpus:\n" + string.Concat(Uuids.Skip(1).Select(u => VGpu(u, "i915-GVTg_V5_8", "00:02.0"))));
        var pass = _worker.RequestPassAsync("test", reload: true);
        _clock.AdvanceUntil(() => pass.IsCompleted, TimeSpan.FromSeconds(2), "the pass after the edit");
        Assert.Contains(held, _host.Devices);

        // The VM exits: its fds go, and closing them is what the watch sees.
        Directory.Delete(_dir.Combine("proc", "4242"), recursive: true);
        Seen(() => File.ReadAllText(node), "the VM closing its group");

        _clock.AdvanceUntil(() => !_host.Devices.Contains(held), TimeSpan.FromSeconds(2), $"{held} removed once its VM let go");
    }

    [Fact]
    public void AFailedCreate_IsTriedAgainWhenItsBackoffEnds_NotAtTheInterval()
    {
        var unlucky = Uuids[1];
        _host.Writer.FailNextCreate.Add(unlucky);
        _host.Core.Write(Path.Combine(_host.Reader.Read().Devices[unlucky].SysfsPath, "remove"), "1");
        _clock.AdvanceUntil(() => _host.Writer.CreatesOf(unlucky) == 2, TimeSpan.FromSeconds(2), $"the uevent's pass tried to create {unlucky} (and failed)");

        // The first retry comes 5 s after the failure; an hour-long interval must not hold it up.
        var took = _clock.AdvanceUntil(() => _host.Devices.Contains(unlucky), TimeSpan.FromSeconds(6), $"{unlucky} created on its retry");
        Assert.InRange(took, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(6));
        Assert.Equal(3, _host.Writer.CreatesOf(unlucky));
    }

    [Fact]
    public void AnEditNoFileEventReported_IsAppliedAtTheNextInterval()
    {
        // No watcher runs here: nothing tells the worker the file changed, as when an event is lost.
        // One declaration swapped for another: the old device goes, which makes room for the new one.
        var extra = "11111111-2222-3333-4444-5555555555ee";
        _dir.Write(MainFile, "settings:\n  interval: 1h\nvgpus:\n" + string.Concat(Uuids.Skip(1).Append(extra).Select(u => VGpu(u, "i915-GVTg_V5_8", "00:02.0"))));
        _clock.Advance(TimeSpan.FromMinutes(59));
        _clock.AdvanceBy(TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(extra, _host.Devices);
        Assert.Contains(Uuids[0], _host.Devices);

        var took = _clock.AdvanceUntil(() => _host.Devices.Contains(extra), TimeSpan.FromMinutes(2), $"{extra} created at the interval pass",
            step: TimeSpan.FromSeconds(1));

        Assert.Contains(extra, _host.Ledger.Owned);
        Assert.DoesNotContain(Uuids[0], _host.Devices);
        Assert.InRange(took, TimeSpan.FromSeconds(50), TimeSpan.FromSeconds(65));
    }

    [Fact]
    public void AVmTakingAndLettingGoOfADevice_ShowsInUseWithinASecond_WithNothingPlanned()
    {
        var uuid = Uuids[2];
        bool InUse() => _host.Reconciler.Current.VGpus.Single(v => v.Uuid == uuid).InUse;
        var group = _host.Reader.Read().Devices[uuid].IommuGroup!.Value;
        var node = _dir.Combine("dev", "vfio", group.ToString());
        Seen(() => File.WriteAllText(node, ""), "the group's node made"); // the kernel made it when the device appeared
        _clock.AdvanceBy(TimeSpan.FromSeconds(2));
        Assert.False(InUse());

        // A VM opens the group.
        Directory.CreateDirectory(_dir.Combine("proc", "4243", "fd"));
        File.CreateSymbolicLink(_dir.Combine("proc", "4243", "fd", "7"), $"/dev/vfio/{group}");
        Seen(() => File.ReadAllText(node), "the VM opening its group");
        _clock.AdvanceUntil(InUse, TimeSpan.FromSeconds(1), $"{uuid} shown in use once a VM opened it");

        // The VM exits.
        Directory.Delete(_dir.Combine("proc", "4243"), recursive: true);
        Seen(() => File.ReadAllText(node), "the VM closing its group");
        _clock.AdvanceUntil(() => !InUse(), TimeSpan.FromSeconds(1), $"{uuid} shown free once the VM let go");
        Assert.Contains(uuid, _host.Devices); // still declared: nothing was removed
    }

    // The fake clock moves only between passes, and counts them from the reconciler's
    // announcements: a pass that publishes more than its start (a sleep state change), or that ends
    // with no result (it threw), must still count as one pass that has ended.

    [Fact]
    public void ASleepStateChangeDuringAPass_IsNotCountedAsAnotherPass()
    {
        var uuid = Uuids[3];
        var changed = 0;
        _host.Writer.BeforeWrite = (path, _) =>
        {
            // The sleep coordinator publishes from its own thread, here while the pass writes.
            if (path.EndsWith("/create") && Interlocked.Exchange(ref changed, 1) == 0) _host.Reconciler.SetSleep("awake", inhibitorHeld: true);
        };
        _host.Core.Write(Path.Combine(_host.Reader.Read().Devices[uuid].SysfsPath, "remove"), "1");

        _clock.AdvanceUntil(() => _host.Devices.Contains(uuid), TimeSpan.FromSeconds(2), $"{uuid} created again by the uevent's pass");
        _clock.AdvanceBy(TimeSpan.FromSeconds(2)); // the clock moves on once the pass has ended

        Assert.Equal(1, changed);
        Assert.Equal(DaemonState.Idle, _host.Reconciler.Current.State);
        Assert.True(_host.Reconciler.Current.SleepOrNull!.InhibitorHeld);
    }

    [Fact]
    public void APassThatThrows_EndsAsAPass_AndTheNextOneRuns()
    {
        var uuid = Uuids[4];
        var thrown = 0;
        _host.Writer.BeforeWrite = (path, _) =>
        {
            if (path.EndsWith("/create") && Interlocked.Exchange(ref thrown, 1) == 0) throw new InvalidOperationException("a bug in the pass (injected by the test)");
        };
        _host.Core.Write(Path.Combine(_host.Reader.Read().Devices[uuid].SysfsPath, "remove"), "1");

        _clock.AdvanceUntil(() => Volatile.Read(ref thrown) == 1, TimeSpan.FromSeconds(2), "the uevent's pass to reach its create (and throw)");
        _clock.AdvanceBy(TimeSpan.FromSeconds(2)); // the clock moves on once the pass has ended
        Assert.Equal(DaemonState.Degraded, _host.Reconciler.Current.State);
        Assert.DoesNotContain(uuid, _host.Devices);

        var pass = _worker.RequestPassAsync("test", reload: false);
        _clock.AdvanceUntil(() => pass.IsCompleted, TimeSpan.FromSeconds(2), "the pass asked for after the one that threw");
        Assert.Contains(uuid, _host.Devices);
    }
}
