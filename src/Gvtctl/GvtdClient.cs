using Gvtd.Interop;

namespace Gvtctl;

/// <summary>A failure gvtctl reports in one line and turns into an exit code.</summary>
internal sealed class CliException(int exitCode, string message, string? busError = null) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>The D-Bus error name behind it, shown with --verbose.</summary>
    public string? BusError { get; } = busError;
}

/// <summary>
/// Synchronous calls to gvtd over the shared sd-bus interop: each call is queued with CallAsync and the
/// connection's loop runs on this thread until the reply callback has read the body and stopped it.
/// </summary>
internal sealed class GvtdClient : IDisposable
{
    public const string Service = "org.gvtd.Gvtd1";
    public const string Root = "/org/gvtd/Gvtd1";
    public const string ManagerPath = "/org/gvtd/Gvtd1/Manager";
    public const string ManagerIface = "org.gvtd.Gvtd1.Manager";
    public const string VGpuIface = "org.gvtd.Gvtd1.VGpu";
    public const string ParentIface = "org.gvtd.Gvtd1.Parent";
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(90);

    private readonly BusConnection _bus;
    private readonly BusKind _kind;

    private GvtdClient(BusConnection bus, BusKind kind)
    {
        _bus = bus;
        _kind = kind;
    }

    public static GvtdClient Connect(BusKind kind)
    {
        try
        {
            return new GvtdClient(BusConnection.Open(kind), kind);
        }
        catch (BusUnavailableException e)
        {
            throw new CliException(ExitCodes.NotRunning, LowerFirst(e.Message.TrimEnd('.')));
        }
    }

    /// <summary>Calls <paramref name="member"/> and lets <paramref name="read"/> read the reply body; D-Bus errors become CliException.</summary>
    public T Call<T>(string path, string iface, string member, Action<MessageWriter>? args, Func<MessageReader, T> read, string what)
    {
        T result = default!;
        string? errorName = null, errorMessage = null;
        Exception? failure = null;
        using var done = new CancellationTokenSource();
        _bus.CallAsync(Service, path, iface, member, args, reply =>
        {
            try
            {
                if (reply.IsError)
                {
                    errorName = reply.ErrorName;
                    errorMessage = reply.ErrorMessage;
                }
                else
                {
                    result = read(reply.Body!);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                done.Cancel();
            }
        }, CallTimeout, allowInteractiveAuthorization: true);
        try
        {
            _bus.Run(done.Token);
        }
        catch (BusException e)
        {
            throw new CliException(ExitCodes.Failure, $"lost the connection to the bus while {what}", e.ErrorName);
        }
        if (failure is BusException be)
            throw new CliException(ExitCodes.Failure, $"gvtd's answer to {member} was not understood: {be.Message}", be.ErrorName);
        if (failure is not null)
            throw new CliException(ExitCodes.Failure, $"gvtd's answer to {member} was not understood: {failure.Message}");
        if (errorName is not null)
            throw Translate(errorName, errorMessage ?? "", what);
        return result;
    }

    public void Call(string path, string iface, string member, Action<MessageWriter>? args, string what) =>
        Call<bool>(path, iface, member, args, _ => true, what);

    private CliException Translate(string name, string message, string what)
    {
        message = OneLine(message);
        switch (name)
        {
            case BusErrors.ServiceUnknown or BusErrors.NameHasNoOwner:
                return new CliException(ExitCodes.NotRunning, _kind == BusKind.System
                    ? "gvtd is not running: systemctl start gvtd"
                    : "gvtd is not running on your user bus: gvtd --simulate", name);
            case BusErrors.AccessDenied or BusErrors.InteractiveAuthorizationRequired:
                {
                    var hint = message.Contains("sudo", StringComparison.Ordinal)
                        ? message
                        : $"{message.TrimEnd('.')}; run it as root (sudo gvtctl ...) or as a user polkit grants org.gvtd.Gvtd1.manage (an administrator)";
                    return new CliException(ExitCodes.Failure, $"not allowed to {what}: {hint}", name);
                }
            case BusErrors.NoReply or BusErrors.Timeout:
                return new CliException(ExitCodes.Failure, $"gvtd did not answer while {what} (timed out after {CallTimeout.TotalSeconds:0} s): journalctl -u gvtd", name);
            case BusErrors.UnknownObject or BusErrors.UnknownMethod or BusErrors.UnknownInterface or BusErrors.UnknownProperty:
                return new CliException(ExitCodes.Failure, $"{message.TrimEnd('.')} (is gvtd older than gvtctl? gvtctl --version, busctl introspect {Service} {ManagerPath})", name);
            default:
                return new CliException(ExitCodes.Failure, message.Length > 0 ? message : $"{what} failed ({name})", name);
        }
    }

    internal static string OneLine(string text) =>
        string.Join("; ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    internal static string LowerFirst(string s) => s.Length > 0 && char.IsUpper(s[0]) && (s.Length == 1 || !char.IsUpper(s[1])) ? char.ToLowerInvariant(s[0]) + s[1..] : s;

    // ------------------------------------------------------------------ typed calls

    /// <summary>org.freedesktop.DBus.Properties.GetAll of one interface.</summary>
    public Dictionary<string, object?> GetAll(string path, string iface, string what) =>
        Call(path, "org.freedesktop.DBus.Properties", "GetAll", w => w.Write(iface), ReadProperties, what);

    /// <summary>ObjectManager.GetManagedObjects at /org/gvtd/Gvtd1: path → interface → properties.</summary>
    public Dictionary<string, Dictionary<string, Dictionary<string, object?>>> GetManagedObjects(string what) =>
        Call(Root, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", null, r =>
        {
            var objects = new Dictionary<string, Dictionary<string, Dictionary<string, object?>>>(StringComparer.Ordinal);
            r.EnterContainer('a', "{oa{sa{sv}}}");
            while (r.EnterContainer('e', "oa{sa{sv}}"))
            {
                var path = r.ReadObjectPath();
                var ifaces = new Dictionary<string, Dictionary<string, object?>>(StringComparer.Ordinal);
                r.EnterContainer('a', "{sa{sv}}");
                while (r.EnterContainer('e', "sa{sv}"))
                {
                    var name = r.ReadString();
                    ifaces[name] = ReadProperties(r);
                    r.ExitContainer();
                }
                r.ExitContainer();
                objects[path] = ifaces;
                r.ExitContainer();
            }
            r.ExitContainer();
            return objects;
        }, what);

    private static Dictionary<string, object?> ReadProperties(MessageReader r)
    {
        var props = new Dictionary<string, object?>(StringComparer.Ordinal);
        r.EnterContainer('a', "{sv}");
        while (r.EnterContainer('e', "sv"))
        {
            var name = r.ReadString();
            props[name] = ReadVariant(r);
            r.ExitContainer();
        }
        r.ExitContainer();
        return props;
    }

    /// <summary>The variant types gvtd uses: s o b u t as a(ssssu); anything else is skipped as null.</summary>
    private static object? ReadVariant(MessageReader r)
    {
        r.PeekType(out _, out var contents);
        r.EnterContainer('v', contents);
        object? value = contents switch
        {
            "s" => r.ReadString(),
            "o" => r.ReadObjectPath(),
            "b" => r.ReadBool(),
            "u" => r.ReadUInt32(),
            "t" => r.ReadUInt64(),
            "as" => r.ReadArray("s", x => x.ReadString()),
            "a(ssssu)" => r.ReadArray("(ssssu)", x =>
            {
                x.EnterContainer('r', "ssssu");
                var t = new MdevType(x.ReadString(), x.ReadString(), x.ReadString(), x.ReadString(), x.ReadUInt32());
                x.ExitContainer();
                return t;
            }),
            _ => null,
        };
        if (value is null && contents is not null)
            r.Skip(contents);
        r.ExitContainer();
        return value;
    }

    public void Dispose() => _bus.Dispose();
}

/// <summary>One entry of a Parent's Types property: id, name, device_api, description, available_instances.</summary>
internal sealed record MdevType(string Id, string Name, string DeviceApi, string Description, uint Available);
