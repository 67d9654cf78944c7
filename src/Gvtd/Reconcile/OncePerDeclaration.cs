using Gvtd.DesiredState;
using Gvtd.Planning;

namespace Gvtd.Reconcile;

/// <summary>
/// The one memory behind "never churn" (issue 24): which PFs gvtd has set up (enabled, or reset
/// through 0 VFs) for which declaration, keyed by the PF's address and a fingerprint of what is
/// declared for it. A PF that still does not look as declared after gvtd set it up has a driver
/// that keeps something else (it rounds a quota to its alignment, enables fewer VFs than asked):
/// setting it up again would remove every VF for nothing, pass after pass, since each reset
/// succeeds and nothing backs off. So the planner takes a PF through 0 at most once per
/// declaration, then blocks it (<see cref="BlockReason.DriverKeeps"/>). An entry goes when its
/// declaration changes or goes, so a new declaration gets its one try. In memory: a restart of gvtd
/// may try once more. Read from the bus's threads (PlanNow) while a pass writes it, hence the lock.
/// </summary>
public sealed class OncePerDeclaration
{
    private readonly Dictionary<string, string> _setUp = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Whether gvtd set this PF up for exactly this declaration already.</summary>
    public bool SetUpBefore(DesiredFunction want)
    {
        lock (_lock) return _setUp.TryGetValue(want.Address, out var was) && was == Fingerprint(want);
    }

    /// <summary>Remembers a PF set up for its declaration: an enable or a reset that succeeded.</summary>
    public void Applied(FunctionAction action, bool succeeded)
    {
        if (!succeeded || action.Kind is not (FunctionActionKind.Enable or FunctionActionKind.Reset) || action.Desired is not { } want) return;
        lock (_lock) _setUp[want.Address] = Fingerprint(want);
    }

    /// <summary>Forgets every PF whose declaration is not the one it was set up for.</summary>
    public void Forget(IEnumerable<DesiredFunction> declared)
    {
        var now = declared.ToDictionary(f => f.Address, Fingerprint, StringComparer.Ordinal);
        lock (_lock)
            foreach (var address in _setUp.Keys.ToList())
                if (!now.TryGetValue(address, out var fingerprint) || fingerprint != _setUp[address])
                    _setUp.Remove(address);
    }

    /// <summary>What of a declaration the kernel and the driver are asked for: not its name or where it is written.</summary>
    public static string Fingerprint(DesiredFunction want) => string.Join("\n",
        [$"vfs={want.Vfs}", $"driver={want.Driver}", $"vgpu-type={want.VGpuType}",
            .. want.Provision.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"provision.{p.Key}={p.Value}")]);
}
