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
/// </summary>
internal sealed class SleepCoordinator(BusService busService, Reconciler reconciler, ReconcileWorker worker, ILogger<SleepCoordinator> logger)
    : IHostedService, IDisposable
{
    private const string Who = "gvtd (virtual GPUs)";
    private const string Why = "Removing idle vGPUs before sleep: a GVT-g host cannot suspend while vGPUs exist";

    /// <summary>Released this long before logind's own limit, so the suspend never waits on logind's timeout.</summary>
    private static readonly TimeSpan Margin = TimeSpan.FromMilliseconds(500);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private Logind? _logind;
    private IDisposable? _watch;
    private SafeFileHandle? _inhibitor;
    private TimeSpan _delayMax = TimeSpan.FromSeconds(5);
    private string _state = "unavailable";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Without D-Bus, or on a user bus (--simulate), there is no logind to follow sleep with.
        if (busService.Connection is not { } bus || !busService.OnSystemBus) return;
        var logind = new Logind(bus);
        try
        {
            if (await logind.OwnerAsync() is null)
            {
                logger.LogWarning("systemd-logind is not on the bus: gvtd cannot follow sleep, so vGPUs stay in place through a suspend");
                return;
            }
            _delayMax = await logind.InhibitDelayMaxAsync();
            _watch = await logind.WatchPrepareForSleepAsync(OnPrepareForSleepAsync);
        }
        catch (Exception e) when (e is DBusErrorReplyException or TimeoutException or DBusConnectionException or InvalidDataException)
        {
            logger.LogWarning("Cannot follow sleep through systemd-logind ({Error}); vGPUs stay in place through a suspend", e.Message);
            return;
        }
        _logind = logind;
        _state = "awake";
        // After each pass: vGPUs of its own may have come or gone.
        reconciler.Changed += (snapshot, result) => { if (result is not null) _ = UpdateInhibitorAsync(); };
        await UpdateInhibitorAsync();
    }

    /// <summary>gvtd needs the delay while it has vGPUs of its own that sleep would set aside.</summary>
    private static bool NeedsDelay(StatusSnapshot s) =>
        s.Settings.Sleep == SleepPolicy.RemoveIdle && s.VGpus.Any(v => v.Owned && v.SysfsPath.Length > 0);

    private async Task UpdateInhibitorAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_state == "awake" && NeedsDelay(reconciler.Current)) await TakeAsync();
            else if (_state == "awake") Release();
            reconciler.SetSleep(_state, _inhibitor is not null);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task TakeAsync()
    {
        if (_inhibitor is not null || _logind is null) return;
        try
        {
            _inhibitor = await _logind.InhibitSleepAsync(Who, Why);
            logger.LogInformation("Holding a sleep delay inhibitor, to remove idle vGPUs before a suspend");
        }
        catch (Exception e) when (e is DBusErrorReplyException or TimeoutException or InvalidDataException)
        {
            logger.LogWarning("Cannot take a sleep inhibitor from systemd-logind ({Error}); a suspend may begin before gvtd removes its vGPUs", e.Message);
        }
    }

    private void Release()
    {
        _inhibitor?.Dispose();
        _inhibitor = null;
    }

    private async Task OnPrepareForSleepAsync(bool start, string sender)
    {
        // Anyone may send a signal that looks like logind's; only logind's own counts.
        if (_logind is null || sender != await _logind.OwnerAsync())
        {
            logger.LogWarning("Ignoring a PrepareForSleep signal from {Sender}, which is not systemd-logind", sender);
            return;
        }
        await _gate.WaitAsync();
        try
        {
            if (start) await StepAsideAsync();
            else await ResumeAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task StepAsideAsync()
    {
        if (reconciler.Current.Settings.Sleep == SleepPolicy.Keep)
        {
            logger.LogInformation("The machine is going to sleep; keeping every vGPU (settings.sleep: keep)");
            return;
        }
        _state = "preparing";
        reconciler.SetSleep(_state, _inhibitor is not null);
        var budget = _delayMax - Margin;
        try
        {
            await worker.StepAsideAsync().WaitAsync(budget > TimeSpan.Zero ? budget : TimeSpan.Zero);
        }
        catch (TimeoutException)
        {
            logger.LogWarning("Setting vGPUs aside did not finish within logind's InhibitDelayMaxSec ({Limit}s); letting the suspend go ahead", _delayMax.TotalSeconds);
        }
        var now = reconciler.Current;
        foreach (var kept in now.Plan.Where(a => a.Kind == ActionKind.Keep && a.Blocked == BlockReason.InUse))
            logger.LogWarning("vGPU {Uuid} (parent {Parent}) stays through sleep: {Reason}", kept.Uuid, kept.Parent, kept.Reason);
        logger.LogInformation("Ready for sleep: {Count} vGPU(s) set aside ({Uuids})", now.Sleep.SetAside.Count, string.Join(", ", now.Sleep.SetAside));
        _state = "asleep";
        Release();
        reconciler.SetSleep(_state, false);
    }

    private async Task ResumeAsync()
    {
        if (_state is not ("preparing" or "asleep")) return;
        _state = "resuming";
        reconciler.SetSleep(_state, false);
        var result = await worker.ResumeAsync();
        logger.LogInformation("Resumed: recreated {Created} vGPU(s)", result.Created);
        _state = "awake";
        if (NeedsDelay(reconciler.Current)) await TakeAsync();
        reconciler.SetSleep(_state, _inhibitor is not null);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _watch?.Dispose();
        Release();
        _gate.Dispose();
    }
}
