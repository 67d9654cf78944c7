namespace Gvtd.Reconcile;

/// <summary>
/// Failed changes are retried with exponential backoff (5 s doubling to 5 min), so a device that
/// cannot be created does not hammer the kernel or the journal every interval. A person asking for a
/// pass (Reconcile, Reload, SIGHUP, an edited file) clears it: they may have just fixed the cause.
/// The worker writes it and Plan() reads it from another thread, hence the lock.
/// </summary>
public sealed class RetryBackoff(TimeProvider time)
{
    private static readonly TimeSpan First = TimeSpan.FromSeconds(5), Max = TimeSpan.FromMinutes(5);
    private readonly Dictionary<string, (int Failures, long NotBefore, string Error)> _failures = new(StringComparer.Ordinal);

    public string? LastError(string uuid)
    {
        lock (_failures) return _failures.TryGetValue(uuid, out var f) ? f.Error : null;
    }

    /// <summary>How long until the next try, or null if the device may be tried now.</summary>
    public TimeSpan? Wait(string uuid)
    {
        // Timestamps, not wall-clock time: a clock step must not bring a retry forward or put it off.
        lock (_failures)
        {
            if (!_failures.TryGetValue(uuid, out var f)) return null;
            var left = -time.GetElapsedTime(f.NotBefore);
            return left > TimeSpan.Zero ? left : null;
        }
    }

    public void Failed(string uuid, string error)
    {
        lock (_failures)
        {
            var failures = _failures.TryGetValue(uuid, out var f) ? f.Failures + 1 : 1;
            var delay = TimeSpan.FromTicks(Math.Min(Max.Ticks, First.Ticks << Math.Min(failures - 1, 16)));
            _failures[uuid] = (failures, time.GetTimestamp() + (long)(delay.TotalSeconds * time.TimestampFrequency), error);
        }
    }

    public void Succeeded(string uuid)
    {
        lock (_failures) _failures.Remove(uuid);
    }

    public void Forget(Func<string, bool> keep)
    {
        lock (_failures)
            foreach (var uuid in _failures.Keys.Where(u => !keep(u)).ToList()) _failures.Remove(uuid);
    }

    public void ResetDelays()
    {
        lock (_failures)
            foreach (var (uuid, f) in _failures.ToList()) _failures[uuid] = f with { NotBefore = long.MinValue / 2 };
    }
}
