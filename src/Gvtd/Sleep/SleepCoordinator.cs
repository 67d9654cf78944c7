using Gvtd.Bus;
using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Reconcile;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Tmds.DBus.Protocol;

namespace Gvtd.Sleep;

/// <summary>
/// Lets a GVT-g laptop sleep. A GVT-g host cannot suspend while any vGPU exists, so while gvtd has
/// vGPUs of its own and settings.sleep is remove-idle, it holds a delay inhibitor from logind. On
/// PrepareForSleep(true) the worker sets aside what no VM holds, then the inhibitor goes and the
/// suspend proceeds; it never holds the suspend past logind's InhibitDelayMaxSec. On
/// PrepareForSleep(false) the same vGPUs come back from the declarations at once, and the
/// inhibitor is taken again. A crash while asleep loses nothing: the next start reconciles.
///
/// logind is followed wherever and whenever it runs: the bus daemon's NameOwnerChanged says when it
/// appears (after gvtd, on a racy boot), goes, or restarts (an upgrade), and each new instance gets
/// a new inhibitor. Only its current unique name may send PrepareForSleep. Nothing on this path may
/// leave gvtd "asleep": a resume always brings the declared vGPUs back, and so does logind going
/// away mid-cycle, since a machine running gvtd's code is awake.
/// </summary>
internal sealed class SleepCoordinator(BusService busService, Reconciler reconciler, ReconcileWorker worker, ILogger<SleepCoordinator> logger)
    : IHostedService, IDisposable
{
    private const string Who = "gvtd (virtual GPUs)";
    private const string Why = "Removing idle vGPUs before sleep: a GVT-g host cannot suspend while vGPUs exist";

    /// <summary>Released this long before logind's own limit, so the suspend never waits on logind's timeout.</summary>
    private static readonly TimeSpan Margin = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan DefaultDelayMax = TimeSpan.FromSeconds(5);

    // One transition at a time: owner changes, sleep signals and inhibitor updates all take it.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Logind? _logind;
    private readonly List<IDisposable> _watches = [];
    private SafeFileHandle? _inhibitor;
    private TimeSpan _delayMax = DefaultDelayMax;
    private string _state = "unavailable";
    // logind's unique name now; null while it is not on the bus.
    private string? _owner;
    // Set once a NameOwnerChanged arrived, so the start's own look-up cannot undo a newer answer.
    private bool _ownerSignalled;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Without D-Bus, or on a user bus (--simulate), there is no logind to follow sleep with.
        if (busService.Connection is not { } bus || !busService.OnSystemBus) return;
        var logind = new Logind(bus);
        _logind = logind;
        string? owner;
        try
        {
            // Watch first, then ask: a logind that starts in between is not missed.
            _watches.Add(await logind.WatchOwnerAsync(owner => Guarded("logind's name changing hands", () => OnOwnerAsync(owner, signalled: true))));
            _watches.Add(await logind.WatchPrepareForSleepAsync((start, sender) => Guarded("PrepareForSleep", () => OnPrepareForSleepAsync(start, sender))));
            owner = await logind.OwnerAsync();
        }
        catch (Exception e) when (e is DBusErrorReplyException or TimeoutException or DBusConnectionException or InvalidDataException)
        {
            logger.LogWarning("Cannot follow sleep through systemd-logind ({Error}); vGPUs stay in place through a suspend", e.Message);
            return;
        }
        // After each pass: vGPUs of its own may have come or gone. Not on the publishing thread,
        // which must not wait for logind.
        reconciler.Changed += (_, result) =>
        {
            if (result is not null) Task.Run(() => Guarded("updating the sleep inhibitor", UpdateInhibitorAsync));
        };
        if (owner is null)
            logger.LogWarning("systemd-logind is not on the bus yet: vGPUs stay in place through a suspend until it appears");
        await Guarded("following systemd-logind", () => OnOwnerAsync(owner, signalled: false));
    }

    /// <summary>
    /// Runs one step of the sleep cycle so that nothing escapes: these run from bus signals, where an
    /// exception would cost the connection, and a failure here must be seen, not thrown away.
    /// </summary>
    private async Task Guarded(string what, Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception e)
        {
            logger.LogError(e, "Following sleep failed while {What}; vGPUs are brought back at the next resume or pass", what);
        }
    }

    /// <summary>logind appeared, went away or restarted: follow the instance there is now.</summary>
    private async Task OnOwnerAsync(string? owner, bool signalled)
    {
        await _gate.WaitAsync();
        try
        {
            if (!signalled && _ownerSignalled) return; // a newer answer already came
            _ownerSignalled |= signalled;
            if (owner == _owner && _state != "unavailable") return;
            var previous = _owner;
            _owner = owner;

            // Mid-cycle, whatever logind does next cannot send the resume gvtd waits for; a
            // machine that runs this code is awake, so bring the vGPUs back now.
            if (_state is "preparing" or "asleep")
            {
                logger.LogWarning("systemd-logind {Change} while the machine was going to sleep; bringing the vGPUs back", owner is null ? "left the bus" : "restarted");
                await ResumeLockedAsync();
            }

            if (owner is null)
            {
                ReleaseInhibitor();
                _state = "unavailable";
                if (previous is not null)
                    logger.LogWarning("systemd-logind left the bus; vGPUs stay in place through a suspend until it is back");
                Report();
                return;
            }

            _delayMax = await DelayMaxAsync();
            _state = "awake";
            logger.LogInformation("Following sleep through systemd-logind ({Owner}{Restart})", owner, previous is null ? "" : ", restarted");
            // The old instance's inhibitor means nothing to the new one: take a new one, then let
            // the old one go, so there is no moment without.
            var old = _inhibitor;
            _inhibitor = null;
            await UpdateInhibitorLockedAsync();
            old?.Dispose();
            Report();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<TimeSpan> DelayMaxAsync()
    {
        try
        {
            return await _logind!.InhibitDelayMaxAsync();
        }
        catch (Exception e) when (e is DBusErrorReplyException or TimeoutException or DBusConnectionException or InvalidDataException)
        {
            logger.LogWarning("Cannot read systemd-logind's InhibitDelayMaxSec ({Error}); assuming {Seconds} s", e.Message, DefaultDelayMax.TotalSeconds);
            return DefaultDelayMax;
        }
    }

    /// <summary>gvtd needs the delay while it has vGPUs, or SR-IOV VFs, of its own that sleep would set aside.</summary>
    private static bool NeedsDelay(StatusSnapshot s) =>
        s.Settings.Sleep == SleepPolicy.RemoveIdle
        && (s.VGpus.Any(v => v.Owned && v.SysfsPath.Length > 0) || s.Functions.Any(f => f.Owned && f.Vfs.Count > 0));

    private async Task UpdateInhibitorAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await UpdateInhibitorLockedAsync();
            Report();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task UpdateInhibitorLockedAsync()
    {
        if (_state != "awake") return;
        if (NeedsDelay(reconciler.Current)) await TakeInhibitorAsync();
        else ReleaseInhibitor();
    }

    private async Task TakeInhibitorAsync()
    {
        if (_inhibitor is not null || _logind is null) return;
        try
        {
            _inhibitor = await _logind.InhibitSleepAsync(Who, Why);
            logger.LogInformation("Holding a sleep delay inhibitor, to remove idle vGPUs before a suspend");
        }
        catch (Exception e) when (e is DBusErrorReplyException or TimeoutException or DBusConnectionException or InvalidDataException)
        {
            logger.LogWarning("Cannot take a sleep inhibitor from systemd-logind ({Error}); a suspend may begin before gvtd removes its vGPUs", e.Message);
        }
    }

    private void ReleaseInhibitor()
    {
        _inhibitor?.Dispose();
        _inhibitor = null;
    }

    private void Report() => reconciler.SetSleep(_state, _inhibitor is not null);

    private async Task OnPrepareForSleepAsync(bool start, string sender)
    {
        await _gate.WaitAsync();
        try
        {
            // Anyone may send a signal that looks like logind's; only logind's own counts. The name
            // is the one NameOwnerChanged gave: no look-up that could fail on this path.
            if (_owner is null || sender != _owner)
            {
                logger.LogWarning("Ignoring a PrepareForSleep signal from {Sender}, which is not systemd-logind", sender);
                return;
            }
            if (start) await StepAsideLockedAsync();
            else await ResumeLockedAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task StepAsideLockedAsync()
    {
        if (reconciler.Current.Settings.Sleep == SleepPolicy.Keep)
        {
            logger.LogInformation("The machine is going to sleep; keeping every vGPU (settings.sleep: keep)");
            return;
        }
        if (_state is "preparing" or "asleep")
            logger.LogInformation("PrepareForSleep(true) again while {State}; setting aside what there is now", _state);
        _state = "preparing";
        Report();
        try
        {
            var budget = _delayMax - Margin;
            await worker.StepAsideAsync().WaitAsync(budget > TimeSpan.Zero ? budget : TimeSpan.Zero);
            var now = reconciler.Current;
            foreach (var kept in now.Plan.Where(a => a.Kind == ActionKind.Keep && a.Blocked == BlockReason.InUse))
                logger.LogWarning("vGPU {Uuid} (parent {Parent}) stays through sleep: {Reason}", kept.Uuid, kept.Parent, kept.Reason);
            foreach (var kept in now.FunctionPlan.Where(a => a.Kind == FunctionActionKind.Keep && a.Blocked == BlockReason.InUse))
                logger.LogWarning("The VFs of SR-IOV PF {Address} stay through sleep: {Reason}", kept.Address, kept.Reason);
            logger.LogInformation("Ready for sleep: {Count} vGPU(s) set aside ({Uuids})", now.Sleep.SetAside.Count, string.Join(", ", now.Sleep.SetAside));
        }
        catch (TimeoutException)
        {
            logger.LogWarning("Setting vGPUs aside did not finish within logind's InhibitDelayMaxSec ({Limit}s); letting the suspend go ahead", _delayMax.TotalSeconds);
        }
        finally
        {
            // Whatever happened, the suspend must not wait on gvtd any longer.
            _state = "asleep";
            ReleaseInhibitor();
            Report();
        }
    }

    private async Task ResumeLockedAsync()
    {
        if (_state is not ("preparing" or "asleep"))
        {
            // A resume with no sleep before it (gvtd started mid-cycle, or a stray signal): nothing
            // was set aside by this gvtd, and the passes already create what is declared.
            logger.LogInformation("PrepareForSleep(false) while {State}; nothing was set aside", _state);
            return;
        }
        // The next suspend may come at once, during the pass that brings things back: it must find
        // the inhibitor held, so it is taken first (a pass that finds nothing of gvtd's lets it go).
        var now = reconciler.Current;
        if (_owner is not null && now.Settings.Sleep == SleepPolicy.RemoveIdle && (now.Sleep.SetAside.Count > 0 || NeedsDelay(now)))
            await TakeInhibitorAsync();
        _state = "resuming";
        Report();
        var pass = worker.ResumeAsync();
        try
        {
            // Bounded: a pass held up by writes stuck in the kernel must not keep the gate, and with
            // it the next PrepareForSleep or logind restarting, waiting. The pass goes on regardless.
            var result = await pass.WaitAsync(_delayMax > TimeSpan.Zero ? _delayMax : DefaultDelayMax);
            logger.LogInformation("Resumed: recreated {Created} vGPU(s)", result.Created);
        }
        catch (TimeoutException)
        {
            logger.LogWarning("The resume pass has not finished after {Seconds}s (a write may be waiting in the kernel); it goes on, and gvtd follows sleep meanwhile",
                (_delayMax > TimeSpan.Zero ? _delayMax : DefaultDelayMax).TotalSeconds);
            _ = pass.ContinueWith(t => logger.LogInformation("Resumed: recreated {Created} vGPU(s)", t.Result.Created),
                CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }
        finally
        {
            // ResumeAsync has already ended the sleep planning before anything could fail; a pass
            // that failed is retried as every failed pass is. The inhibitor taken above stays until
            // a finished pass shows gvtd has nothing to set aside (the update after each pass).
            _state = "awake";
            if (NeedsDelay(reconciler.Current)) await TakeInhibitorAsync();
            Report();
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var watch in _watches) watch.Dispose();
        ReleaseInhibitor();
        _gate.Dispose();
    }
}
