using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>
/// gvtd's calls to other services (the bus itself, polkit). The library gives calls no timeout of
/// their own, so every one here has one: a service that never answers cannot hold a caller of
/// gvtd forever. A timeout arrives as <see cref="TimeoutException"/>, an error reply as
/// <see cref="DBusErrorReplyException"/>.
/// </summary>
internal static class OutgoingCall
{
    public static async Task<T> CallAsync<T>(DBusConnection bus, string destination, string path, string iface, string member,
        string? signature, BodyWriter? args, MessageValueReader<T> read, TimeSpan timeout, MessageFlags flags = MessageFlags.None)
    {
        var message = Build(bus, destination, path, iface, member, signature, args, flags);
        return await bus.CallMethodAsync(message, read).WaitAsync(timeout);
    }

    private static MessageBuffer Build(DBusConnection bus, string destination, string path, string iface, string member,
        string? signature, BodyWriter? args, MessageFlags flags)
    {
        var writer = bus.GetMessageWriter();
        try
        {
            writer.WriteMethodCallHeader(destination, path, iface, member, signature, flags);
            args?.Invoke(ref writer);
            return writer.CreateMessage();
        }
        finally
        {
            writer.Dispose();
        }
    }

    /// <summary>The uid of the process behind a unique bus name, as the bus daemon saw it connect.</summary>
    public static Task<uint> CallerUidAsync(DBusConnection bus, string sender, TimeSpan timeout) =>
        CallAsync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixUser", "s",
            (ref MessageWriter w) => w.WriteString(sender), (m, _) => m.GetBodyReader().ReadUInt32(), timeout);
}
