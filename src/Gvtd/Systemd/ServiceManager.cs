using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;

namespace Gvtd.Systemd;

/// <summary>
/// Talks to the service manager the way sd_notify(3) does: whenever NOTIFY_SOCKET is set, not only
/// when the parent process is called "systemd" (Hosting.Systemd's test, which misses containers and
/// wrappers). Sends READY=1/STOPPING=1 (through SystemdLifetime), STATUS= lines, and WATCHDOG=1 when
/// WATCHDOG_USEC asks for it.
/// </summary>
public sealed class ServiceManager(ISystemdNotifier? notifier, TimeSpan? watchdogInterval)
{
    /// <summary>How often the service manager wants to hear WATCHDOG=1, or null when it does not.</summary>
    public TimeSpan? WatchdogInterval { get; } = watchdogInterval;

    public static void Register(IServiceCollection services)
    {
        if (Environment.GetEnvironmentVariable("NOTIFY_SOCKET") is { Length: > 0 })
        {
            services.AddSingleton<ISystemdNotifier>(new ForgivingNotifier(new SystemdNotifier()));
            services.AddSingleton<IHostLifetime, SystemdLifetime>();
        }
        services.AddSingleton(sp => new ServiceManager(sp.GetService<ISystemdNotifier>(), ReadWatchdogInterval()));
    }

    /// <summary>Called from the reconcile loop only (see ReconcileWorker), so a stuck loop stops the beats and systemd notices.</summary>
    public void WatchdogBeat()
    {
        if (WatchdogInterval is not null) notifier?.Notify(new ServiceState("WATCHDOG=1"));
    }

    /// <summary>The one-line status `systemctl status gvtd` shows.</summary>
    public void Status(string text) => notifier?.Notify(new ServiceState("STATUS=" + text));

    private static TimeSpan? ReadWatchdogInterval()
    {
        if (!long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) || usec <= 0)
            return null;
        // WATCHDOG_PID, when set, names the process meant (sd_watchdog_enabled).
        if (Environment.GetEnvironmentVariable("WATCHDOG_PID") is { Length: > 0 } pid && pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
            return null;
        return TimeSpan.FromTicks(usec * TimeSpan.TicksPerMicrosecond);
    }
}
