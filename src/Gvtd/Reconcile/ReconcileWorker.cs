using Gvtd.DesiredState;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gvtd.Reconcile;

/// <summary>
/// Decides when passes run: at start, on the kernel's uevents (a parent registering or going, a
/// device added or removed), on request (D-Bus, SIGHUP, an edited file), when a stuck write finally
/// returns, when a VM lets go of a device something waits on, when a failed change is due to be
/// retried, and every interval as a safety net. Every pass first looks whether the files changed
/// (cheap: their names and bytes), so an edit whose file event was missed is applied at the next
/// pass all the same. Every wait is on one monotonic <see cref="TimeProvider"/>, so a clock step
/// neither stretches nor skips the interval, and tests drive time instead of sleeping. Requests that arrive during a pass are merged into
/// the next one, and everyone who asked gets that pass's result; a burst of uevents settles first,
/// so 24 removals make one or two passes, not 24. Stopping never removes anything.
/// </summary>
public sealed class ReconcileWorker(DesiredStateStore desired, Reconciler reconciler, Applying.Applier applier,
    Sysfs.IKernel kernel, Sysfs.VfioUsers vfioUsers, Systemd.ServiceManager serviceManager, TimeProvider time,
    ILogger<ReconcileWorker> logger) : BackgroundService
{
    private sealed record Request(string Why, bool Reload, bool Explicit, TaskCompletionSource<PassResult>? Done, bool Settle = false);

    /// <summary>
    /// A burst of uevents (24 removals come over a second or more) settles before its pass: the
    /// pass starts once no event came for <see cref="Settle"/>, or after <see cref="MaxSettle"/>.
    /// </summary>
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(150), MaxSettle = TimeSpan.FromSeconds(1);
    private IDisposable? _uevents;

    private readonly Channel<Request> _requests = Channel.CreateUnbounded<Request>(new() { SingleReader = true });
    private readonly TaskCompletionSource _firstPass = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PosixSignalRegistration? _sighup;

    // For tests that drive a fake clock: what the loop waits on, and requests handed to it and taken
    // by it. A clock may move only while the loop waits on time alone; nothing in gvtd reads these.
    private const int Running = 0, Listening = 1, Settling = 2, WritesWaited = 3;
    private int _waitingOn;
    private long _handed, _taken;

    /// <summary>Requests handed to the loop so far (tests wait on this for an event to have reached it).</summary>
    internal long RequestsHanded => Interlocked.Read(ref _handed);

    /// <summary>
    /// True while nothing but the clock can move the loop on: it waits for a request and none is
    /// waiting for it, it waits out a burst's settle time, or its pass waits on a kernel write. Tests
    /// on a fake clock move it only then, so however slow the machine, gvtd never looks late.
    /// </summary>
    internal bool WaitsOnTimeAlone => Volatile.Read(ref _waitingOn) switch
    {
        Listening => Interlocked.Read(ref _handed) == Interlocked.Read(ref _taken),
        Settling => true,
        WritesWaited => applier.WaitedOnWriteWithin(TimeSpan.Zero),
        _ => false,
    };

    private void Hand(Request request)
    {
        Interlocked.Increment(ref _handed);
        _requests.Writer.TryWrite(request);
    }

    private bool TryTake(out Request request)
    {
        if (!_requests.Reader.TryRead(out request!)) return false;
        Interlocked.Increment(ref _taken);
        return true;
    }

    /// <summary>Asks for a pass (after re-reading the files if reload) and completes with its result.</summary>
    public Task<PassResult> RequestPassAsync(string why, bool reload)
    {
        var done = new TaskCompletionSource<PassResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        Hand(new Request(why, reload, Explicit: true, done));
        return done.Task;
    }

    /// <summary>
    /// The machine is about to sleep: from now on passes set vGPUs aside (settings.sleep), and this
    /// one does it now. Completes with that pass's result.
    /// </summary>
    public Task<PassResult> StepAsideAsync()
    {
        reconciler.Asleep = true;
        return RequestPassAsync("preparing for sleep", reload: false);
    }

    /// <summary>The machine woke up: what was set aside comes back in this pass.</summary>
    public Task<PassResult> ResumeAsync()
    {
        reconciler.Asleep = false;
        return RequestPassAsync("resume", reload: false);
    }

    /// <summary>Fire-and-forget form for signals and file watches.</summary>
    public void Trigger(string why, bool reload, bool isExplicit) =>
        Hand(new Request(why, reload, isExplicit, null));

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // An inherited "ignore SIGHUP" (nohup, a shell, a test runner) would keep .NET from taking
        // it: reset it first. A SIGHUP in the instant between the two ends gvtd, as it would before
        // start-up; every one after it reloads.
        Interop.SignalDisposition.ResetToDefault(Interop.SignalDisposition.SIGHUP);
        _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true; // SIGHUP means reload, not exit
            logger.LogInformation("SIGHUP: reloading the desired state");
            Trigger("SIGHUP", reload: true, isExplicit: true);
        });
        applier.LateWriteFinished += uuid => Trigger($"late write for {uuid} returned", reload: false, isExplicit: false);
        _uevents = kernel.Listen(e =>
        {
            // What the last pass looked at decides; the host's other PCI devices start no pass.
            if (e.MattersTo(reconciler.UeventInterest))
                Hand(new Request("uevent", Reload: false, Explicit: false, null, Settle: true));
        }, why =>
        {
            logger.LogWarning("Stopped following the kernel's uevents ({Why}); a late driver or a device removed by hand is noticed at the next interval pass", why);
            Hand(new Request("uevents lost", Reload: false, Explicit: false, null));
        }, out var error);
        // Opening or closing /dev/vfio sends no uevent. A VM taking or letting go of a device changes
        // what InUse shows, and a device kept because a VM held it may go now: look again at once.
        vfioUsers.OpenedOrClosed += () =>
            Hand(new Request("a VFIO user came or went", Reload: false, Explicit: false, null, Settle: true));
        if (_uevents is null)
            logger.LogWarning("Not following the kernel's uevents ({Error}); a late driver or a device removed by hand is noticed at the next interval pass", error);
        await base.StartAsync(cancellationToken);
        // Readiness means devices: the host tells systemd READY=1 once every service has started, so
        // a unit ordered After=gvtd.service (libvirt-guests, pve-guests ...) finds the declared vGPUs
        // whose parents are present. An absent parent does not hold this up: the pass just waits for it.
        try
        {
            await _firstPass.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // SIGTERM came before the first pass was done: that is a stop, not a failure to start.
            // Returning lets the host stop as usual (exit 0, devices left), where throwing made it
            // abort with "Hosting failed to start".
        }
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _sighup?.Dispose();
        _uevents?.Dispose();
        logger.LogInformation("Stopping; vGPUs are left in place (VMs may be using them)");
        return base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _sighup?.Dispose();
        _uevents?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        var pending = new List<Request> { new("start", Reload: true, Explicit: false, null) };
        while (!stop.IsCancellationRequested)
        {
            PassResult result;
            try
            {
                // Inside the guard: a failure while reading the files must not stop the loop either.
                // A request to reload re-reads whatever the files say; any other pass re-reads them
                // only if they changed, which also catches an edit whose file event was lost.
                if (pending.Any(r => r.Reload)) desired.Reload();
                else desired.ReloadIfChanged();
                result = await BeatingWhileWritesWaitAsync(reconciler.RunPassAsync(Label(pending), pending.Any(r => r.Explicit)));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A bug, not bad input: log it fully, keep the daemon alive, and let the next pass try again.
                logger.LogError(e, "Reconcile pass failed unexpectedly");
                result = new PassResult(0, 0, 1, desired.View.Error);
            }
            foreach (var request in pending) request.Done?.TrySetResult(result);
            ReportStatus();
            _firstPass.TrySetResult();

            pending = await NextRequestsAsync(stop);
        }
    }

    /// <summary>
    /// A pass with several writes stuck in the kernel (each waited on up to the write timeout) can
    /// outlast the watchdog period; such a pass is slow, not stuck, so the beats go on while the
    /// applier waits on writes. Anything else that holds a pass up for half a period is the loop
    /// stuck, and then the beats stop and systemd restarts gvtd (the devices stay).
    /// </summary>
    private async Task<PassResult> BeatingWhileWritesWaitAsync(Task<PassResult> pass)
    {
        if (serviceManager.WatchdogInterval is not { } watchdog) return await pass;
        var half = watchdog / 2;
        while (true)
        {
            // The wait for the next beat is cancelled when the pass ends first: no timer outlives it.
            using var beat = new CancellationTokenSource();
            var either = Task.WhenAny(pass, Task.Delay(half, time, beat.Token));
            Volatile.Write(ref _waitingOn, WritesWaited);
            var first = await either;
            Volatile.Write(ref _waitingOn, Running);
            if (first == pass)
            {
                beat.Cancel();
                break;
            }
            if (applier.WaitedOnWriteWithin(half)) serviceManager.WatchdogBeat();
        }
        return await pass;
    }

    /// <summary>
    /// What a pass is for, in its log line: the requests a person made when there are any (the
    /// uevents of gvtd's own writes ride along with most of them), else what the kernel or clock said.
    /// </summary>
    private static string Label(List<Request> pending)
    {
        var explicitOnes = pending.Where(r => r.Explicit).ToList();
        return string.Join(", ", (explicitOnes.Count > 0 ? explicitOnes : pending).Select(r => r.Why).Distinct());
    }

    private void ReportStatus() => serviceManager.Status(reconciler.Current.Summary);

    /// <summary>
    /// Waits for requests or the interval, then takes everything queued so far. Wakes at least every
    /// half watchdog period to tell systemd the loop is alive.
    /// </summary>
    private async Task<List<Request>> NextRequestsAsync(CancellationToken stop)
    {
        // A failed change due for its retry before the interval ends wakes the loop then.
        var interval = reconciler.Current.Settings.Interval;
        var untilRetry = reconciler.NextRetry;
        var retry = untilRetry < interval;
        var due = retry ? untilRetry!.Value : interval;
        var since = time.GetTimestamp();
        var taken = new List<Request>();
        while (taken.Count == 0 && !stop.IsCancellationRequested)
        {
            serviceManager.WatchdogBeat();
            var wait = due - time.GetElapsedTime(since);
            if (serviceManager.WatchdogInterval is { } watchdog && watchdog / 2 < wait) wait = watchdog / 2;
            using var timeout = new CancellationTokenSource(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, time);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
            try
            {
                var read = _requests.Reader.ReadAsync(either.Token);
                Volatile.Write(ref _waitingOn, Listening);
                var request = await read;
                Interlocked.Increment(ref _taken);
                taken.Add(request);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                if (time.GetElapsedTime(since) >= due) taken.Add(new Request(retry ? "retry" : "interval", Reload: false, Explicit: false, null));
            }
            catch (OperationCanceledException)
            {
                break;
            }
            finally
            {
                Volatile.Write(ref _waitingOn, Running);
            }
        }
        while (TryTake(out var more)) taken.Add(more);
        var settling = time.GetTimestamp();
        while (taken.Any(r => r.Settle) && !stop.IsCancellationRequested && time.GetElapsedTime(settling) < MaxSettle)
        {
            try
            {
                var settle = Task.Delay(Settle, time, stop);
                Volatile.Write(ref _waitingOn, Settling);
                await settle;
            }
            catch (OperationCanceledException)
            {
                break; // stopping: the loop ends with what was taken
            }
            finally
            {
                Volatile.Write(ref _waitingOn, Running);
            }
            var quiet = true;
            while (TryTake(out var more))
            {
                taken.Add(more);
                quiet &= !more.Settle;
            }
            if (quiet) break;
        }
        return taken;
    }
}
