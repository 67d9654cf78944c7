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
