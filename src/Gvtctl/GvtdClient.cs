using Gvtd.Contract;
using Tmds.DBus.Protocol;

namespace Gvtctl;

/// <summary>A failure gvtctl reports in one line and turns into an exit code.</summary>
internal sealed class CliException(int exitCode, string message, string? busError = null) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>The D-Bus error name behind it, shown with --verbose.</summary>
    public string? BusError { get; } = busError;
}

public enum BusKind { System, User }

/// <summary>Writes a call's arguments.</summary>
internal delegate void ArgsWriter(ref MessageWriter writer);

/// <summary>
/// gvtctl's calls to gvtd, one at a time and waited for: each has a timeout, lets polkit ask the
/// user for a password (as busctl does), and turns every D-Bus error into one line and an exit code.
/// The wire records come from the contract gvtd itself writes with.
/// </summary>
internal sealed class GvtdClient : IDisposable
{
    // Longer than gvtd waits for a polkit prompt, so gvtctl always hears gvtd's answer (AuthorizationTimes).
    private static readonly TimeSpan CallTimeout = AuthorizationTimes.ClientCall;

    private readonly DBusConnection _bus;
    private readonly BusKind _kind;

    private GvtdClient(DBusConnection bus, BusKind kind)
    {
        _bus = bus;
        _kind = kind;
    }

    public static GvtdClient Connect(BusKind kind)
    {
        var name = kind.ToString().ToLowerInvariant();
        var address = kind == BusKind.System ? DBusAddress.System : DBusAddress.Session;
        if (address is null)
            throw new CliException(ExitCodes.NotRunning, $"cannot connect to the D-Bus {name} bus: no address is known (set DBUS_SESSION_BUS_ADDRESS)");
        var bus = new DBusConnection(new DBusConnectionOptions(address) { AutoConnect = false });
        try
        {
            bus.ConnectAsync().AsTask().WaitAsync(CallTimeout).GetAwaiter().GetResult();
            return new GvtdClient(bus, kind);
        }
        catch (Exception e) when (e is DBusConnectionException or IOException or TimeoutException or System.Net.Sockets.SocketException)
        {
            bus.Dispose();
            throw new CliException(ExitCodes.NotRunning, $"cannot connect to the D-Bus {name} bus at {address}: {OneLine(e.Message).TrimEnd('.')}");
        }
    }

    /// <summary>Calls <paramref name="member"/> on gvtd and reads the reply; D-Bus errors become CliException.</summary>
    public T Call<T>(string path, string iface, string member, string? signature, ArgsWriter? args, MessageValueReader<T> read, string what)
    {
        var writer = _bus.GetMessageWriter();
        MessageBuffer message;
        try
        {
            writer.WriteMethodCallHeader(BusNames.Service, path, iface, member, signature, MessageFlags.AllowInteractiveAuthorization);
            args?.Invoke(ref writer);
            message = writer.CreateMessage();
        }
        finally
        {
            writer.Dispose();
        }
        try
        {
            return _bus.CallMethodAsync(message, read).WaitAsync(CallTimeout).GetAwaiter().GetResult();
        }
        catch (DBusErrorReplyException e)
        {
            throw Translate(e.ErrorName, e.ErrorMessage, what);
        }
        catch (TimeoutException)
        {
            throw Translate(BusErrors.NoReply, "", what);
        }
        catch (DBusConnectionException e)
        {
            throw new CliException(ExitCodes.Failure, $"lost the connection to the bus while {what}: {OneLine(e.Message)}", BusErrors.Disconnected);
        }
        catch (Exception e) when (e is DBusReadException or DBusUnexpectedValueException or InvalidOperationException or IndexOutOfRangeException)
        {
            throw new CliException(ExitCodes.Failure, $"gvtd's answer to {member} was not understood: {OneLine(e.Message)}");
        }
    }

    public void Call(string path, string iface, string member, string? signature, ArgsWriter? args, string what) =>
        Call(path, iface, member, signature, args, (_, _) => true, what);

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
                        : $"{message.TrimEnd('.')}; run it as root (sudo gvtctl ...) or as a user polkit grants {BusNames.ManageAction} (an administrator)";
                    return new CliException(ExitCodes.Failure, $"not allowed to {what}: {hint}", name);
                }
            case BusErrors.NoReply or BusErrors.Timeout:
                return new CliException(ExitCodes.Failure, $"gvtd did not answer while {what} (timed out after {CallTimeout.TotalSeconds:0} s): journalctl -u gvtd", name);
            case BusErrors.UnknownObject or BusErrors.UnknownMethod or BusErrors.UnknownInterface or BusErrors.UnknownProperty:
                return new CliException(ExitCodes.Failure, $"{message.TrimEnd('.')} (is gvtd older than gvtctl? gvtctl --version, busctl introspect {BusNames.Service} {BusNames.ManagerPath})", name);
            default:
                return new CliException(ExitCodes.Failure, message.Length > 0 ? message : $"{what} failed ({name})", name);
        }
    }

    internal static string OneLine(string text) =>
        string.Join("; ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    // ------------------------------------------------------------------ typed calls

    public List<PlanRow> Plan() =>
        Call(BusNames.ManagerPath, BusNames.ManagerInterface, "Plan", null, null, (m, _) =>
        {
            var r = m.GetBodyReader();
            return PlanRow.ReadArray(ref r);
        }, "asking gvtd for its plan");

    public List<FunctionPlanRow> PlanFunctions() =>
        Call(BusNames.ManagerPath, BusNames.ManagerInterface, "PlanFunctions", null, null, (m, _) =>
        {
            var r = m.GetBodyReader();
            return FunctionPlanRow.ReadArray(ref r);
        }, "asking gvtd for its SR-IOV plan");

    public List<FunctionRow> ListFunctions() =>
        Call(BusNames.ManagerPath, BusNames.ManagerInterface, "ListFunctions", null, null, (m, _) =>
        {
            var r = m.GetBodyReader();
            return FunctionRow.ReadArray(ref r);
        }, "listing gvtd's SR-IOV functions");

    public (string Uuid, string Path) AddVGpu(string uuid, string type, string parent, bool runtime) =>
        Call(BusNames.ManagerPath, BusNames.ManagerInterface, "AddVGpu", "sssb", (ref MessageWriter w) =>
        {
            w.WriteString(uuid);
            w.WriteString(type);
            w.WriteString(parent);
            w.WriteBool(runtime);
        }, (m, _) =>
        {
            var r = m.GetBodyReader();
            return (r.ReadString(), r.ReadObjectPathAsString());
        }, "add a vGPU");

    public void RemoveVGpu(string uuid) =>
        Call(BusNames.ManagerPath, BusNames.ManagerInterface, "RemoveVGpu", "s", (ref MessageWriter w) => w.WriteString(uuid), "remove a vGPU");

    public (uint Created, uint Removed, uint Failed) Reconcile() =>
        Call(BusNames.ManagerPath, BusNames.ManagerInterface, "Reconcile", null, null, (m, _) =>
        {
            var r = m.GetBodyReader();
            return (r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32());
        }, "run a pass");

    public void Reload() => Call(BusNames.ManagerPath, BusNames.ManagerInterface, "Reload", null, null, "reload the configuration");

    /// <summary>org.freedesktop.DBus.Properties.GetAll of one interface.</summary>
    public Dictionary<string, object?> GetAll(string path, string iface, string what) =>
        Call(path, BusNames.Properties, "GetAll", "s", (ref MessageWriter w) => w.WriteString(iface), (m, _) =>
        {
            var r = m.GetBodyReader();
            return ReadProperties(ref r);
        }, what);

    /// <summary>ObjectManager.GetManagedObjects at /org/gvtd/Gvtd1: path → interface → properties.</summary>
    public Dictionary<string, Dictionary<string, Dictionary<string, object?>>> GetManagedObjects(string what) =>
        Call(BusNames.Root, BusNames.ObjectManager, "GetManagedObjects", null, null, (m, _) =>
        {
            var objects = new Dictionary<string, Dictionary<string, Dictionary<string, object?>>>(StringComparer.Ordinal);
            var r = m.GetBodyReader();
            var all = r.ReadDictionaryStart();
            while (r.HasNext(all))
            {
                var path = r.ReadObjectPathAsString();
                var ifaces = new Dictionary<string, Dictionary<string, object?>>(StringComparer.Ordinal);
                var entries = r.ReadDictionaryStart();
                while (r.HasNext(entries))
                {
                    var name = r.ReadString();
                    ifaces[name] = ReadProperties(ref r);
                }
                objects[path] = ifaces;
            }
            return objects;
        }, what);

    private static Dictionary<string, object?> ReadProperties(ref Reader r) =>
        r.ReadDictionaryOfStringToVariantValue().ToDictionary(p => p.Key, p => Value(p.Value), StringComparer.Ordinal);

    /// <summary>The property types gvtd uses: s o b u t as a(ssssu); anything else is kept as null.</summary>
    private static object? Value(VariantValue v) => v.Type switch
    {
        VariantValueType.String => v.GetString(),
        VariantValueType.ObjectPath => v.GetObjectPathAsString(),
        VariantValueType.Bool => v.GetBool(),
        VariantValueType.UInt32 => v.GetUInt32(),
        VariantValueType.UInt64 => v.GetUInt64(),
        VariantValueType.Array when v.ItemType == VariantValueType.String => v.GetArray<string>().ToList(),
        VariantValueType.Array when v.ItemType == VariantValueType.Struct => TypeRows(v),
        _ => null,
    };

    private static List<MdevTypeRow>? TypeRows(VariantValue array)
    {
        var rows = new List<MdevTypeRow>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            var t = array.GetItem(i);
            if (t.Count != 5) return null;
            rows.Add(new MdevTypeRow(t.GetItem(0).GetString(), t.GetItem(1).GetString(), t.GetItem(2).GetString(), t.GetItem(3).GetString(), t.GetItem(4).GetUInt32()));
        }
        return rows;
    }

    public void Dispose() => _bus.Dispose();
}
