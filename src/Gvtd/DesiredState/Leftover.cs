namespace Gvtd.DesiredState;

/// <summary>What gvtd may remove that nobody declared.</summary>
public enum PrunePolicy
{
    /// <summary>Never remove anything undeclared.</summary>
    None,
    /// <summary>Remove undeclared devices only if gvtd created them (the default).</summary>
    Owned,
    /// <summary>Remove every undeclared mediated device on the host.</summary>
    All,
}

/// <summary>Where a declaration came from, for error messages and for the D-Bus Source property.</summary>
public sealed record SourceLocation(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>One vGPU the user wants to exist. Uuid and Parent are normalised.</summary>
public sealed record DesiredVGpu(string Uuid, string Type, string Parent, string? Name, SourceLocation Source);

/// <summary>What gvtd does with its vGPUs when the machine is about to sleep.</summary>
public enum SleepPolicy
{
    /// <summary>
    /// Remove the vGPUs gvtd created that no VM holds, and recreate them on resume: a GVT-g host
    /// cannot suspend while any vGPU exists.
    /// </summary>
    RemoveIdle,

    /// <summary>Leave every vGPU in place (for drivers that suspend with vGPUs, such as NVIDIA's).</summary>
    Keep,
}

public sealed record Settings(TimeSpan Interval, PrunePolicy Prune, SleepPolicy Sleep = SleepPolicy.RemoveIdle)
{
    public static readonly Settings Default = new(TimeSpan.FromMinutes(5), PrunePolicy.Owned);

    /// <summary>The setting as the file spells it.</summary>
    public static string SleepName(SleepPolicy sleep) => sleep == SleepPolicy.Keep ? "keep" : "remove-idle";
}

/// <summary>
/// The whole validated desired state: the main file plus its drop-ins, merged.
/// Only ever built from input that passed validation, so the rest of gvtd can trust it.
/// </summary>
public sealed record DesiredStateSnapshot(Settings Settings, IReadOnlyList<DesiredVGpu> VGpus, IReadOnlyList<string> Files)
{
    public static readonly DesiredStateSnapshot Empty = new(Settings.Default, [], []);
}
