namespace Gvtd.Reconcile;

/// <summary>
/// Plan, PlanFunctions and PreviewAddVGpu are open to anyone, and each answer needs a whole read
/// of sysfs (and of /proc when it changed). Callers asking at the same time share one read
/// (single-flight): however many wait, one read runs at a time, on one pool thread, so a flood of
/// calls costs gvtd's CPU and heap no more than one caller asking without pause. Callers await it;
/// no thread of theirs blocks (the bus's dispatch thread hands the call over and goes on).
///
/// No answer is older than its call: a read already running may have looked at a file before the
/// caller changed it, so a caller who comes while one runs waits for the next read, shared with
/// everyone else who came meanwhile. An answer takes at most two read times.
///
/// A read that does not return (a sysfs attribute stuck in the kernel) must not hold its callers
/// for ever: each waits at most the bound, then is told gvtd cannot know. The read goes on, and no
/// second one starts beside it; the next starts once it returns.
/// </summary>
public sealed class PlanPreview
{
    private readonly Func<Preview> _plan;
    private readonly TimeSpan _bound;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private bool _running;
    private TaskCompletionSource<Preview>? _next;

    /// <param name="bound">The write timeout: how long gvtd waits on the kernel before it calls a sysfs access stuck.</param>
    public PlanPreview(Reconciler reconciler, GvtdOptions options) : this(reconciler.PlanNow, options.WriteTimeout, TimeProvider.System) { }

    /// <param name="plan">One read and plan of the host.</param>
    /// <param name="bound">How long a caller waits for its read.</param>
    internal PlanPreview(Func<Preview> plan, TimeSpan bound, TimeProvider time) => (_plan, _bound, _time) = (plan, bound, time);

    /// <summary>The plan as of a read begun after this call; <see cref="PreviewTimeoutException"/> when none came within the bound.</summary>
    public async Task<Preview> NowAsync()
    {
        Task<Preview> flight;
        lock (_lock)
        {
            if (!_running) flight = Start(NewFlight());
            else flight = (_next ??= NewFlight()).Task;
        }
        try
        {
            return await flight.WaitAsync(_bound, _time);
        }
        catch (TimeoutException)
        {
            throw new PreviewTimeoutException(_bound);
        }
    }

    private static TaskCompletionSource<Preview> NewFlight() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Under the lock.</summary>
    private Task<Preview> Start(TaskCompletionSource<Preview> flight)
    {
        _running = true;
        ThreadPool.UnsafeQueueUserWorkItem(Run, flight, preferLocal: false);
        return flight.Task;
    }

    private void Run(TaskCompletionSource<Preview> flight)
    {
        Preview? result = null;
        Exception? error = null;
        try
        {
            result = _plan();
        }
        catch (Exception e)
        {
            error = e; // every caller of this read gets it (the bus answers Failed)
        }
        lock (_lock)
        {
            _running = false;
            if (_next is { } next)
            {
                _next = null;
                Start(next);
            }
        }
        if (error is null) flight.SetResult(result!);
        else flight.SetException(error);
    }
}

/// <summary>The read behind a plan has not returned within the bound: gvtd cannot know what a pass would do.</summary>
public sealed class PreviewTimeoutException(TimeSpan bound) : Exception(
    $"reading sysfs has not returned in {bound.TotalSeconds:0} s, so gvtd cannot know what the next pass would do; " +
    "an attribute is stuck in the kernel (is a VM holding a device?); ListVGpus and ListFunctions show what gvtd saw last; ask again later");
