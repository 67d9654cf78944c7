using System.Collections.Concurrent;
using Gvtd.Planning;
using Gvtd.Sysfs;
using Microsoft.Extensions.Logging;

namespace Gvtd.Applying;

/// <summary>
/// Carries out planned changes with sysfs writes. A write can block in the kernel for as long as a VM
/// holds the device, so each runs on a thread of its own and is awaited with a timeout; a write that times
/// out keeps its device marked busy until it really returns, so no second write piles up behind it.
/// One failed action never stops the others.
/// </summary>
public sealed class Applier(IKernel writer, TimeSpan writeTimeout, TimeProvider time, ILogger<Applier> logger)
{
    // Writes in flight per device, one count per write: a device stays busy while any write to it
    // has not returned, however many came after it and returned (under its own lock).
    private readonly Dictionary<string, int> _inFlight = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PlannedAction> _stuckRemoves = new(StringComparer.Ordinal);

    private int _waiting;
    private long _lastWaitEnded = time.GetTimestamp();

    /// <summary>Raised (on a pool thread) when a write that had timed out finally returns.</summary>
    public event Action<string>? LateWriteFinished;

    public bool IsBusy(string uuid)
    {
        lock (_inFlight) return _inFlight.ContainsKey(uuid);
    }

    private void Began(string key)
    {
        lock (_inFlight) _inFlight[key] = _inFlight.GetValueOrDefault(key) + 1;
    }

    private void Returned(string key)
    {
        lock (_inFlight)
        {
            if (_inFlight.GetValueOrDefault(key) is > 1 and var n) _inFlight[key] = n - 1;
            else _inFlight.Remove(key);
        }
    }

    /// <summary>
    /// True while a pass waits on a write, or did within <paramref name="span"/>: that wait is bounded
    /// by the write timeout, so a pass spending its time there is slow, not stuck (the watchdog rule).
    /// </summary>
    public bool WaitedOnWriteWithin(TimeSpan span) =>
        Volatile.Read(ref _waiting) > 0 || time.GetElapsedTime(Volatile.Read(ref _lastWaitEnded)) < span;

    /// <summary>
    /// Removes that timed out and have not returned. Linux drops the bus/mdev/devices link before it
    /// waits for the VFIO user, so these devices no longer show up when sysfs is read; this is how
    /// the status still knows about them.
    /// </summary>
    public IReadOnlyCollection<PlannedAction> StuckRemoves => _stuckRemoves.Values.ToList();

    public async Task<IReadOnlyList<ApplyOutcome>> ApplyAsync(IEnumerable<PlannedAction> actions, IReadOnlyDictionary<string, MdevParent> parents)
    {
        var outcomes = new List<ApplyOutcome>();
        foreach (var action in actions.Where(a => a.ChangesSomething))
            outcomes.Add(await ApplyOneAsync(action, parents));
        return outcomes;
    }

    private async Task<ApplyOutcome> ApplyOneAsync(PlannedAction action, IReadOnlyDictionary<string, MdevParent> parents)
    {
        if (IsBusy(action.Uuid))
            return new(action, OutcomeKind.Pending, "an earlier write to this device has not returned yet");

        if (action.Kind is ActionKind.Remove or ActionKind.Recreate)
        {
            var removed = await WriteAsync(action, SysfsRoot.RemoveFile(action.Observed!.SysfsPath), "1");
            if (removed is not null) return removed;
            logger.LogInformation("Removed vGPU {Uuid} (type {Type}, parent {Parent}): {Reason}",
                action.Uuid, action.Observed.Type, action.Observed.Parent, action.Reason);
            if (action.Kind == ActionKind.Remove) return new(action, OutcomeKind.Removed);
        }

        if (!parents.TryGetValue(action.Parent, out var parent))
            return Fail(action, $"parent {action.Parent} disappeared");
        var failed = await WriteAsync(action, SysfsRoot.CreateFile(parent.SysfsPath, action.Type), action.Uuid);
        if (failed is not null) return failed;
        logger.LogInformation("Created vGPU {Uuid} (type {Type}, parent {Parent})", action.Uuid, action.Type, action.Parent);
        return new(action, OutcomeKind.Created);
    }

    /// <summary>Returns null on success, or the failed outcome.</summary>
    private async Task<ApplyOutcome?> WriteAsync(PlannedAction action, string path, string value)
    {
        var isRemove = path.EndsWith("/remove", StringComparison.Ordinal);
        try
        {
            if (await WriteTimedAsync(action.Uuid, path, value,
                    onTimeout: () => { if (isRemove) _stuckRemoves[action.Uuid] = action; },
                    onLateFinish: () => { if (isRemove) _stuckRemoves.TryRemove(action.Uuid, out PlannedAction? _); }))
                return null;
            var what = action.Kind == ActionKind.Create ? "create" : "remove";
            logger.LogWarning("Writing {Path} for vGPU {Uuid} (type {Type}, parent {Parent}) did not return within {Timeout}s; the {What} is still pending in the kernel",
                path, action.Uuid, action.Type, action.Parent, writeTimeout.TotalSeconds, what);
            return new(action, OutcomeKind.TimedOut, $"the kernel has not finished the {what} after {writeTimeout.TotalSeconds:0}s (is a VM still holding the device?)");
        }
        catch (KernelWriteException e)
        {
            // Someone else removed it first: the goal is reached.
            if (isRemove && e.Errno is Errno.ENOENT or Errno.ENODEV) return null;
            return Fail(action, isRemove
                ? KernelErrors.DescribeRemove(e.Errno, action.Uuid)
                : KernelErrors.DescribeCreate(e.Errno, action.Uuid, action.Type, action.Parent));
        }
    }

    /// <summary>
    /// Writes on a thread of its own, awaited up to the write timeout: true when the kernel took it,
    /// false when it had not returned by then. <paramref name="key"/> (a UUID, a PF's address) stays
    /// busy until the write really returns, and <see cref="LateWriteFinished"/> then says so.
    /// Throws <see cref="KernelWriteException"/> when the kernel refused it.
    /// </summary>
    internal async Task<bool> WriteTimedAsync(string key, string path, string value, Action? onTimeout = null, Action? onLateFinish = null)
    {
        // A thread of its own: the kernel may block this write for as long as a VM holds the
        // device, and that must not starve the pool that serves D-Bus and the passes. Counted as in
        // flight from before it starts until it really returns, whether or not it timed out.
        Began(key);
        var timedOut = false;
        try
        {
            var write = Task.Factory.StartNew(() => writer.Write(path, value), CancellationToken.None,
                TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
            Interlocked.Increment(ref _waiting);
            try
            {
                await write.WaitAsync(writeTimeout, time);
            }
            catch (TimeoutException)
            {
                // Leave the key busy until the kernel lets this write go, then ask for a new pass.
                timedOut = true;
                onTimeout?.Invoke();
                _ = write.ContinueWith(_ =>
                {
                    onLateFinish?.Invoke();
                    Returned(key);
                    LateWriteFinished?.Invoke(key);
                }, TaskScheduler.Default);
                return false;
            }
            finally
            {
                Volatile.Write(ref _lastWaitEnded, time.GetTimestamp());
                Interlocked.Decrement(ref _waiting);
            }
            return true;
        }
        finally
        {
            if (!timedOut) Returned(key);
        }
    }

    /// <summary>How long a write may take before gvtd stops waiting for it (it keeps running in the kernel).</summary>
    internal TimeSpan WriteTimeout => writeTimeout;

    private ApplyOutcome Fail(PlannedAction action, string error)
    {
        logger.LogError("Failed to {Action} vGPU {Uuid} (type {Type}, parent {Parent}): {Error}",
            action.KindName, action.Uuid, action.Type, action.Parent, error);
        return new(action, OutcomeKind.Failed, error);
    }
}
