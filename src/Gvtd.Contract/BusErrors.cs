namespace Gvtd.Contract;

/// <summary>
/// Error names on the wire: gvtd's own (as bolt-error.c and systemd's bus-common-errors.c declare
/// theirs) and the standard freedesktop ones either side sends or must recognise.
/// </summary>
public static class BusErrors
{
    public const string InvalidConfig = "org.gvtd.Gvtd1.Error.InvalidConfig";
    public const string NoSuchVGpu = "org.gvtd.Gvtd1.Error.NoSuchVGpu";
    public const string InUse = "org.gvtd.Gvtd1.Error.InUse";
    public const string NoCapacity = "org.gvtd.Gvtd1.Error.NoCapacity";
    public const string NotOwned = "org.gvtd.Gvtd1.Error.NotOwned";

    public const string Failed = "org.freedesktop.DBus.Error.Failed";
    public const string InvalidArgs = "org.freedesktop.DBus.Error.InvalidArgs";
    public const string AccessDenied = "org.freedesktop.DBus.Error.AccessDenied";
    public const string InteractiveAuthorizationRequired = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired";
    public const string UnknownMethod = "org.freedesktop.DBus.Error.UnknownMethod";
    public const string UnknownObject = "org.freedesktop.DBus.Error.UnknownObject";
    public const string UnknownInterface = "org.freedesktop.DBus.Error.UnknownInterface";
    public const string UnknownProperty = "org.freedesktop.DBus.Error.UnknownProperty";
    public const string PropertyReadOnly = "org.freedesktop.DBus.Error.PropertyReadOnly";
    public const string ServiceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown";
    public const string NameHasNoOwner = "org.freedesktop.DBus.Error.NameHasNoOwner";
    public const string NoReply = "org.freedesktop.DBus.Error.NoReply";
    public const string Timeout = "org.freedesktop.DBus.Error.Timeout";
    public const string Disconnected = "org.freedesktop.DBus.Error.Disconnected";
}
