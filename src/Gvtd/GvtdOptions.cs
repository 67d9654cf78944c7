namespace Gvtd;

public enum BusChoice { Default, System, User, None }

/// <summary>Everything the command line decides, read once at start.</summary>
public sealed record GvtdOptions
{
    public string ConfigPath { get; init; } = "/etc/gvtd/vgpus.yaml";
    public string StateDir { get; init; } = "/var/lib/gvtd";
    public string RuntimeDir { get; init; } = "/run/gvtd";
    /// <summary>Null means /sys, or with --simulate a simulated tree in the runtime directory.</summary>
    public string? SysfsRoot { get; init; }
    /// <summary>Null means /proc, or with --simulate an empty directory: no process can hold a simulated device.</summary>
    public string? ProcRoot { get; init; }
    public string DevRoot { get; init; } = "/dev";
    public bool Simulate { get; init; }
    public BusChoice Bus { get; init; } = BusChoice.Default;
    /// <summary>How long a sysfs write may take before it is reported as stuck.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public string EffectiveSysfsRoot => SysfsRoot ?? (Simulate ? Path.Combine(RuntimeDir, "simulated-sysfs") : "/sys");

    public string EffectiveProcRoot => ProcRoot ?? (Simulate ? Path.Combine(RuntimeDir, "simulated-proc") : "/proc");
}
