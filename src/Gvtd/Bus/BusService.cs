using Gvtd.Commands;
using Gvtd.Contract;
using Gvtd.Reconcile;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>
/// Puts gvtd on D-Bus: connects, exports the objects, publishes every snapshot the reconciler
/// makes, and takes the name (before systemd hears READY=1, as hostnamed does). Losing the bus
/// stops gvtd with exit status 1, as systemd's own daemons do, so Restart=on-failure brings it
/// back once the bus is there again.
/// </summary>
internal sealed class BusService(GvtdOptions options, Reconciler reconciler, ManagerCommands commands,
    IHostApplicationLifetime lifetime, ILogger<BusService> logger)
    : IHostedService, IDisposable
{
    private DBusConnection? _bus;
    private volatile bool _stopping;

    /// <summary>The bus connection once started, for gvtd's own calls to other services (logind); null without D-Bus.</summary>
    public DBusConnection? Connection => _bus;

    /// <summary>Whether that connection is to the system bus, where logind lives (not with --simulate on a user bus).</summary>
    public bool OnSystemBus => _bus is not null && !User;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Bus == BusChoice.None) return;
        if (await ConnectAsync() is not { } bus) return;
        _bus = bus;

        var objects = new BusObjects(bus, commands, logger);
        bus.AddMethodHandlers(objects.Handlers);
        // Published from the worker's thread; BusObjects serialises and orders the signals.
        reconciler.Changed += objects.Publish;
        objects.Publish(reconciler.Current, null);

        await TakeNameAsync(bus);
        _ = WatchConnectionAsync(bus);
        logger.LogInformation("Serving {Name} on the {Bus} bus", BusNames.Service, KindName);
    }

    private async Task<DBusConnection?> ConnectAsync()
    {
        var address = User ? DBusAddress.Session : DBusAddress.System;
        var bus = new DBusConnection(new DBusConnectionOptions(address ?? "") { AutoConnect = false, OnException = OnException });
        try
        {
            if (address is null) throw new DBusConnectionException("DBUS_SESSION_BUS_ADDRESS is unset and there is no $XDG_RUNTIME_DIR/bus");
            await bus.ConnectAsync();
            return bus;
        }
        catch (Exception e) when (e is DBusConnectionException or IOException or ArgumentException or System.Net.Sockets.SocketException)
        {
            bus.Dispose();
            var why = address is null
                ? $"cannot find the {KindName} bus: {e.Message.TrimEnd('.')}"
                : $"cannot connect to the {KindName} bus at {address}: {e.Message.TrimEnd('.')}";
            if (options.Bus == BusChoice.Default && options.Simulate)
            {
                logger.LogWarning("No user bus reachable ({Error}); running without D-Bus", why);
                return null;
            }
            throw new StartupException($"{why} (use --bus none to run without D-Bus)");
        }
    }

    private static async Task TakeNameAsync(DBusConnection bus)
    {
        bool owned;
        try
        {
            // None, not Default: Default would let another process take the name from us.
            owned = await bus.TryRequestNameAsync(BusNames.Service, RequestNameOptions.None);
        }
        catch (DBusErrorReplyException e) when (e.ErrorName == BusErrors.AccessDenied)
        {
            throw new StartupException($"cannot own {BusNames.Service} on the bus: the bus policy does not allow this process to own it (check /usr/share/dbus-1/system.d/org.gvtd.Gvtd1.conf)");
        }
        if (!owned)
            throw new StartupException($"cannot own {BusNames.Service} on the bus: it is already owned by another connection (is another gvtd running? or use --bus none)");
    }

    private async Task WatchConnectionAsync(DBusConnection bus)
    {
        var reason = await bus.DisconnectedAsync();
        if (_stopping) return;
        logger.LogError("Lost the D-Bus connection ({Error}); stopping so that systemd restarts gvtd", reason?.Message ?? "closed");
        Environment.ExitCode = 1;
        lifetime.StopApplication();
    }

    /// <summary>
    /// A handler's exception must never cost the connection and with it the bus name: the library
    /// would disconnect by default. Handlers catch their own; this is the last line.
    /// </summary>
    private void OnException(DBusConnection.ExceptionContext context)
    {
        if (context.Source == DBusConnection.ExceptionSource.MethodHandler)
        {
            logger.LogError(context.Exception, "Unhandled error in a D-Bus handler");
            context.DisconnectConnection = false;
        }
    }

    private bool User => options.Bus == BusChoice.User || (options.Bus == BusChoice.Default && options.Simulate);

    private string KindName => User ? "user" : "system";

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _stopping = true;
        _bus?.Dispose();
    }
}
