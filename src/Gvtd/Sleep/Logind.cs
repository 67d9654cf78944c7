using Gvtd.Bus;
using Microsoft.Win32.SafeHandles;
using Tmds.DBus.Protocol;

namespace Gvtd.Sleep;

/// <summary>
/// The little of systemd-logind gvtd uses (org.freedesktop.login1(5)): a delay inhibitor for sleep,
/// the PrepareForSleep signal, and how long logind lets a delay last. Every call has a timeout.
/// </summary>
internal sealed class Logind(DBusConnection bus)
{
    public const string Service = "org.freedesktop.login1";
    private const string Path = "/org/freedesktop/login1", Manager = "org.freedesktop.login1.Manager";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>The unique bus name logind has now, or null when it is not on the bus.</summary>
    public async Task<string?> OwnerAsync()
    {
        try
        {
            return await OutgoingCall.CallAsync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner", "s",
                (ref MessageWriter w) => w.WriteString(Service), (m, _) => m.GetBodyReader().ReadString(), Timeout);
        }
        catch (DBusErrorReplyException e) when (e.ErrorName == "org.freedesktop.DBus.Error.NameHasNoOwner")
        {
            return null;
        }
    }

    /// <summary>InhibitDelayMaxSec= of logind.conf: how long a delay inhibitor may hold a suspend up.</summary>
    public Task<TimeSpan> InhibitDelayMaxAsync() =>
        OutgoingCall.CallAsync(bus, Service, Path, "org.freedesktop.DBus.Properties", "Get", "ss",
            (ref MessageWriter w) => { w.WriteString(Manager); w.WriteString("InhibitDelayMaxUSec"); },
            (m, _) => TimeSpan.FromTicks((long)m.GetBodyReader().ReadVariantValue().GetUInt64() * TimeSpan.TicksPerMicrosecond), Timeout);

    /// <summary>Takes a delay inhibitor for sleep; it lasts until the returned descriptor is closed.</summary>
    public Task<SafeFileHandle> InhibitSleepAsync(string who, string why) =>
        OutgoingCall.CallAsync(bus, Service, Path, Manager, "Inhibit", "ssss",
            (ref MessageWriter w) => { w.WriteString("sleep"); w.WriteString(who); w.WriteString(why); w.WriteString("delay"); },
            (m, _) => m.GetBodyReader().ReadHandle<SafeFileHandle>() ?? throw new InvalidDataException("logind's Inhibit reply carried no file descriptor"),
            Timeout);

    /// <summary>
    /// Calls <paramref name="onOwner"/> with logind's new unique name whenever it appears on the bus,
    /// goes (null) or restarts (a package upgrade does that); the bus daemon itself sends these, so
    /// they need no sender check. The handler must not throw: the library would drop the connection.
    /// </summary>
    public ValueTask<IDisposable> WatchOwnerAsync(Func<string?, Task> onOwner) =>
        bus.AddMatchAsync(
            new MatchRule
            {
                Type = MessageType.Signal, Sender = "org.freedesktop.DBus", Path = "/org/freedesktop/DBus",
                Interface = "org.freedesktop.DBus", Member = "NameOwnerChanged", Arg0 = Service,
            },
            (m, _) =>
            {
                var r = m.GetBodyReader();
                r.ReadString();
                r.ReadString();
                return r.ReadString();
            },
            (Notification<string> n) => n.HasValue ? new ValueTask(onOwner(n.Value.Length == 0 ? null : n.Value)) : default,
            emitOnCapturedContext: false, ObserverFlags.None);

    /// <summary>
    /// Calls <paramref name="onSignal"/> with PrepareForSleep's argument (true: about to sleep,
    /// false: woke up) and the sender's unique name, which the caller checks: anyone may send a
    /// signal with logind's path and interface.
    /// </summary>
    public ValueTask<IDisposable> WatchPrepareForSleepAsync(Func<bool, string, Task> onSignal) =>
        bus.WatchSignalAsync(null, Path, Manager, "PrepareForSleep",
            (m, _) => (Start: m.GetBodyReader().ReadBool(), Sender: m.SenderAsString ?? ""),
            (Notification<(bool Start, string Sender)> n) => n.HasValue ? new ValueTask(onSignal(n.Value.Start, n.Value.Sender)) : default,
            ObserverFlags.None, emitOnCapturedContext: false);
}
