using Gvtd.Commands;
using Gvtd.Interop;
using Gvtd.Reconcile;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gvtd.Bus;

/// <summary>
/// Puts gvtd on D-Bus: opens the bus, exports the objects, takes the name (before systemd hears
/// READY=1, as hostnamed does), and runs the one thread that owns the connection. Snapshots from
/// the reconciler are posted to that thread, which diffs them into D-Bus signals.
/// </summary>
internal sealed class BusService(GvtdOptions options, Reconciler reconciler, ManagerCommands commands,
    IHostApplicationLifetime lifetime, ILogger<BusService> logger)
    : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private BusConnection? _bus;
    private Thread? _thread;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (Connect() is not { } bus) return Task.CompletedTask;
        _bus = bus;
        BusConnection.UnhandledException += e => logger.LogError(e, "Unhandled error in a D-Bus handler");

        var vgpus = new VGpuObjects();
        var parents = new ParentObjects();
        var manager = new ManagerObject(commands, new Authorizer(bus, logger), vgpus, logger);
        bus.AddObjectManager(BusNames.Root);
        manager.Export(bus);
        vgpus.Export(bus);
        parents.Export(bus);

        // Always publish the latest snapshot, whatever order posts run in; signals carry their own pass's result.
        void Publish(PassResult? result)
        {
            // Objects first, then the Manager's counts: whoever reacts to Desired changing finds the objects.
            var snapshot = reconciler.Current;
            vgpus.Update(bus, snapshot);
            parents.Update(bus, snapshot);
            manager.Update(bus, snapshot);
            if (result is not null) ManagerObject.EmitReconcileFinished(bus, result);
        }
        reconciler.Changed += (_, result) => bus.Post(() => Publish(result));
        bus.Post(() => Publish(null));

        try
        {
            bus.RequestName(BusNames.Service);
        }
        catch (BusNameException e)
        {
            throw new StartupException($"cannot own {BusNames.Service} on the bus: {e.Message} (is another gvtd running? or use --bus none)");
        }
        _thread = new Thread(() => RunLoop(bus)) { Name = "gvtd-bus", IsBackground = true };
        _thread.Start();
        logger.LogInformation("Serving {Name} on the {Bus} bus", BusNames.Service, Kind().ToString().ToLowerInvariant());
        return Task.CompletedTask;
    }

    private void RunLoop(BusConnection bus)
    {
        try
        {
            bus.Run(_stop.Token);
        }
        catch (BusException e)
        {
            // As systemd's own daemons do: without the bus we are not doing our job, so exit with
            // a failure and let Restart=on-failure bring us back once the bus is there again.
            logger.LogError("Lost the D-Bus connection ({Error}); stopping so that systemd restarts gvtd", e.Message);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    private BusKind Kind() => options.Bus switch
    {
        BusChoice.User => BusKind.User,
        BusChoice.System => BusKind.System,
        _ => options.Simulate ? BusKind.User : BusKind.System,
    };

    private BusConnection? Connect()
    {
        if (options.Bus == BusChoice.None) return null;
        try
        {
            return BusConnection.Open(Kind());
        }
        catch (BusUnavailableException e) when (options.Bus == BusChoice.Default && options.Simulate)
        {
            logger.LogWarning("No user bus reachable ({Error}); running without D-Bus", e.Message);
            return null;
        }
        catch (BusUnavailableException e)
        {
            throw new StartupException($"cannot connect to the {Kind().ToString().ToLowerInvariant()} bus: {e.Message} (use --bus none to run without D-Bus)");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stop.Cancel();
        _thread?.Join(TimeSpan.FromSeconds(2));
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _bus?.Dispose();
        _stop.Dispose();
    }
}
