namespace Gvtd;

public enum BusChoice { Default, System, User, None }

/// <summary>Everything the command line decides, read once at start.</summary>
public sealed record GvtdOptions
{
    public string ConfigPath { get; init; } = Contract.HostRoots.Default.ConfigFile;
    public string StateDir { get; init; } = Contract.HostRoots.Default.State;
    public string RuntimeDir { get; init; } = Contract.HostRoots.Default.Runtime;
    /// <summary>Null means /sys, or with --simulate a simulated tree in the runtime directory.</summary>
    public string? SysfsRoot { get; init; }
    /// <summary>Null means /proc, or with --simulate an empty directory: no process can hold a simulated device.</summary>
    public string? ProcRoot { get; init; }
    public string DevRoot { get; init; } = Contract.HostRoots.Default.Dev;
    public bool Simulate { get; init; }
    public Simulation.SimulatedGpu SimulatedGpu { get; init; }
    public BusChoice Bus { get; init; } = BusChoice.Default;
    /// <summary>How long a sysfs write may take before it is reported as stuck.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public string EffectiveSysfsRoot => SysfsRoot ?? (Simulate ? Path.Combine(RuntimeDir, SimulatedGpu == Simulation.SimulatedGpu.Gen12 ? "simulated-sysfs-gen12" : "simulated-sysfs") : Contract.HostRoots.Default.Sys);

    public string EffectiveProcRoot => ProcRoot ?? (Simulate ? Path.Combine(RuntimeDir, "simulated-proc") : Contract.HostRoots.Default.Proc);

    /// <summary>Every root the command line chose, as the one object the rest of gvtd takes.</summary>
    public Contract.HostRoots Roots => new(EffectiveSysfsRoot, EffectiveProcRoot, DevRoot, ConfigPath, StateDir, RuntimeDir);
}
