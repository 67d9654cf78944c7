using Gvtd.Applying;
using Gvtd.Bus;
using Gvtd.Commands;
using Gvtd.DesiredState;
using Gvtd.Systemd;
using Gvtd.Logging;
using Gvtd.Ownership;
using Gvtd.Reconcile;
using Gvtd.Simulation;
using Gvtd.Sysfs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;

namespace Gvtd;

internal static class Program
{
    private static int Main(string[] args)
    {
        var parsed = CommandLine.Parse(args);
        if (parsed.ShowHelp) { Console.Out.Write(CommandLine.Help); return 0; }
        if (parsed.ShowVersion) { Console.Out.WriteLine("gvtd " + Version); return 0; }
        if (parsed.Error is { } error) { Console.Error.WriteLine("gvtd: " + error); return 2; }
        if (parsed.CheckConfig)
            return ConfigCheck.Run(parsed.Options!.Roots, againstSysfs: parsed.Options.SysfsRoot is not null, Console.Out, Console.Error);

        using var logger = LoggingSetup.Create();
        try
        {
            using var host = BuildHost(parsed.Options!, logger);
            host.Run();
            return Environment.ExitCode;
        }
        catch (StartupException e)
        {
            logger.Fatal("Cannot start: {Reason}", e.Message);
            return 1;
        }
    }

    public static string Version =>
        typeof(Program).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.0.0";

    private static IHost BuildHost(GvtdOptions options, Serilog.Core.Logger logger)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        ServiceManager.Register(builder.Services);
        builder.Services.AddSerilog(logger);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(TimeProvider.System);

        var roots = options.Roots;
        builder.Services.AddSingleton(new SysfsRoot(roots.Sys));
        builder.Services.AddSingleton(CreateKernel(options, logger));
        // Made by the container, so the container disposes it (its /dev/vfio watch thread) at exit.
        builder.Services.AddSingleton(_ => new VfioUsers(roots.Proc, roots.Dev));
        builder.Services.AddSingleton<SysfsReader>();
        builder.Services.AddSingleton(sp => new Applier(sp.GetRequiredService<IKernel>(), options.WriteTimeout, TimeProvider.System, sp.GetRequiredService<ILogger<Applier>>()));
        builder.Services.AddSingleton<FunctionApplier>();
        builder.Services.AddSingleton(new DesiredStateLoader(roots.ConfigFile, roots.Runtime));
        builder.Services.AddSingleton<DesiredStateStore>();
        builder.Services.AddSingleton(LoadLedger(options, logger));
        builder.Services.AddSingleton<Reconciler>();
        builder.Services.AddSingleton<PlanPreview>();
        builder.Services.AddSingleton<ReconcileWorker>();
        builder.Services.AddSingleton<ManagedDeclarations>();
        builder.Services.AddSingleton<ManagerCommands>();
        // Started in this order: the bus name is taken and the files are watched before the first
        // pass runs (an edit made meanwhile queues another pass); the worker's start returns once
        // that pass is done, and only then does systemd hear READY=1.
        builder.Services.AddSingleton<BusService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BusService>());
        builder.Services.AddHostedService(sp => new DesiredStateWatcher(sp.GetRequiredService<DesiredStateLoader>(),
            () => sp.GetRequiredService<ReconcileWorker>().Trigger("file change", reload: true, isExplicit: true),
            sp.GetRequiredService<ILogger<DesiredStateWatcher>>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ReconcileWorker>());
        builder.Services.AddHostedService<Sleep.SleepCoordinator>();
        return builder.Build();
    }

    private static IKernel CreateKernel(GvtdOptions options, Serilog.Core.Logger logger)
    {
        if (!options.Simulate) return new LinuxKernel();
        try
        {
            var core = SimulatedMdevCore.Open(options.EffectiveSysfsRoot, options.SimulatedGpu);
            Directory.CreateDirectory(options.EffectiveProcRoot);
            logger.Information("Simulating {Gpu} at 0000:00:02.0; its sysfs tree is {Root}",
                core.Gpu == SimulatedGpu.Gen12 ? "a Gen12 iGPU with SR-IOV (7 VFs)" : "a GVT-g GPU", core.Root.Root);
            return core;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"cannot set up the simulated GPU: {e.Message}");
        }
    }

    private static OwnershipLedger LoadLedger(GvtdOptions options, Serilog.Core.Logger logger)
    {
        try
        {
            Directory.CreateDirectory(options.StateDir);
            Directory.CreateDirectory(Path.Combine(options.RuntimeDir, "vgpus.d"));
            return OwnershipLedger.Load(options.StateDir, message => logger.Warning("{Message}", message));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"{e.Message} (state directory {options.StateDir}, runtime directory {options.RuntimeDir}; run as root, or use --simulate to try gvtd as yourself)");
        }
    }
}

/// <summary>A reason gvtd cannot start, said in one line without a stack trace.</summary>
internal sealed class StartupException(string message) : Exception(message);
