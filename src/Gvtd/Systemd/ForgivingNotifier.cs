using System.Net.Sockets;
using Microsoft.Extensions.Hosting.Systemd;

namespace Gvtd.Systemd;

/// <summary>
/// A notification the service manager cannot take (its socket gone, as after a manager restart, or
/// a wrapper that only waited for READY=1) must never take gvtd down: sd_notify(3) returns an error
/// that daemons ignore, so this swallows the failure and says so once on stderr.
/// </summary>
internal sealed class ForgivingNotifier(SystemdNotifier inner) : ISystemdNotifier
{
    private int _warned;

    public bool IsEnabled => inner.IsEnabled;

    public void Notify(ServiceState state)
    {
        try
        {
            inner.Notify(state);
        }
        catch (SocketException e)
        {
            if (Interlocked.Exchange(ref _warned, 1) == 0)
                Console.Error.WriteLine($"gvtd: cannot notify the service manager ({e.Message}); carrying on without it");
        }
    }
}
