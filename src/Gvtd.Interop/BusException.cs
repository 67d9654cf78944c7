using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// A D-Bus error: thrown by handlers to reply with that error, and by this layer when an sd-bus call fails
/// (then <see cref="ErrorName"/> is <c>System.Error.E*</c>, the name sd-bus itself uses for errno-derived errors).
/// </summary>
public sealed class BusException : Exception
{
    public BusException(string errorName, string message) : base(message)
    {
        ArgumentException.ThrowIfNullOrEmpty(errorName);
        ErrorName = errorName;
    }

    public BusException(string errorName, string message, Exception inner) : base(message, inner)
    {
        ArgumentException.ThrowIfNullOrEmpty(errorName);
        ErrorName = errorName;
    }

    public string ErrorName { get; }

    /// <summary>Positive errno when this came from a failed sd-bus call, otherwise 0.</summary>
    public int Errno { get; private init; }

    /// <summary>Build from a negative sd-bus return value; <paramref name="what"/> says what was being done.</summary>
    internal static BusException FromErrno(int negativeErrno, string what)
    {
        int errno = Math.Abs(negativeErrno);
        return new BusException(Errnos.ErrorName(errno), $"{what} failed: {Errnos.Describe(errno)}") { Errno = errno };
    }
}

/// <summary>No bus to connect to (no socket, no daemon, no DBUS_*_BUS_ADDRESS); gvtd cannot run without one.</summary>
public sealed class BusUnavailableException : Exception
{
    public BusUnavailableException(string message, int errno) : base(message) => Errno = errno;
    public int Errno { get; }
}

/// <summary>RequestName failed: the name is taken (EEXIST), we already own it (EALREADY), or policy forbids it (EACCES/EPERM).</summary>
public sealed class BusNameException : Exception
{
    public BusNameException(string name, string message, int errno) : base(message)
    {
        Name = name;
        Errno = errno;
    }

    public string Name { get; }
    public int Errno { get; }
}

/// <summary>Well-known error names, so callers do not retype strings.</summary>
public static class BusErrors
{
    public const string Failed = "org.freedesktop.DBus.Error.Failed";
    public const string InvalidArgs = "org.freedesktop.DBus.Error.InvalidArgs";
    public const string AccessDenied = "org.freedesktop.DBus.Error.AccessDenied";
    public const string NotSupported = "org.freedesktop.DBus.Error.NotSupported";
    public const string UnknownMethod = "org.freedesktop.DBus.Error.UnknownMethod";
    public const string UnknownObject = "org.freedesktop.DBus.Error.UnknownObject";
    public const string UnknownInterface = "org.freedesktop.DBus.Error.UnknownInterface";
    public const string UnknownProperty = "org.freedesktop.DBus.Error.UnknownProperty";
    public const string ServiceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown";
    public const string NameHasNoOwner = "org.freedesktop.DBus.Error.NameHasNoOwner";
    public const string NoReply = "org.freedesktop.DBus.Error.NoReply";
    public const string Timeout = "org.freedesktop.DBus.Error.Timeout";
    public const string Disconnected = "org.freedesktop.DBus.Error.Disconnected";
    public const string InteractiveAuthorizationRequired = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired";
}

/// <summary>errno → text, and errno → the "System.Error.EXXX" name sd-bus uses for unmapped errnos.</summary>
internal static class Errnos
{
    internal const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, ENXIO = 6, ENOMEM = 12, EACCES = 13, EBUSY = 16,
        EEXIST = 17, EINVAL = 22, EDOM = 33, ELOOP = 40, ENOMEDIUM = 123, EPROTO = 71, EBADMSG = 74,
        EOPNOTSUPP = 95, ECONNREFUSED = 111, ECONNRESET = 104, ENOTCONN = 107, ETIMEDOUT = 110, EALREADY = 114, ESHUTDOWN = 108;

    internal static string ErrorName(int errno) => errno switch
    {
        EPERM => "System.Error.EPERM",
        ENOENT => "System.Error.ENOENT",
        ESRCH => "System.Error.ESRCH",
        EINTR => "System.Error.EINTR",
        ENXIO => "System.Error.ENXIO",
        ENOMEM => "System.Error.ENOMEM",
        EACCES => "System.Error.EACCES",
        EBUSY => "System.Error.EBUSY",
        EEXIST => "System.Error.EEXIST",
        EINVAL => "System.Error.EINVAL",
        EDOM => "System.Error.EDOM",
        ELOOP => "System.Error.ELOOP",
        ENOMEDIUM => "System.Error.ENOMEDIUM",
        EPROTO => "System.Error.EPROTO",
        EBADMSG => "System.Error.EBADMSG",
        EOPNOTSUPP => "System.Error.EOPNOTSUPP",
        ECONNREFUSED => "System.Error.ECONNREFUSED",
        ECONNRESET => "System.Error.ECONNRESET",
        ENOTCONN => "System.Error.ENOTCONN",
        ETIMEDOUT => "System.Error.ETIMEDOUT",
        EALREADY => "System.Error.EALREADY",
        ESHUTDOWN => "System.Error.ESHUTDOWN",
        _ => $"System.Error.{errno}",
    };

    internal static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
