using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Sysfs;

namespace Gvtd.Reconcile;

/// <summary>
/// Where gvtd is in the machine's sleep cycle: unavailable (no logind on the bus), awake, preparing
/// (stepping aside before a suspend), asleep, or resuming; whether it holds logind's delay
/// inhibitor; and which vGPUs it removed for sleep and will recreate on resume.
/// </summary>
public sealed record SleepStatus(string State, bool InhibitorHeld, IReadOnlyList<string> SetAside)
{
    public static readonly SleepStatus Unavailable = new("unavailable", false, []);
}
