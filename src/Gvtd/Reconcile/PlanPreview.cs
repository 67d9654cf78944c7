namespace Gvtd.Reconcile;

/// <summary>
/// Plan, PlanFunctions and PreviewAddVGpu are open to anyone, and each answer needs a whole read
/// of sysfs (and of /proc when it changed). Callers asking at the same time share one read
/// (single-flight): however many wait, one read runs at a time, on one pool thread, so a flood of
/// calls costs gvtd's CPU and heap no more than one caller asking without pause. Callers await it;
/// no thread of theirs blocks (the bus's dispatch thread hands the call over and goes on).
///
/// No answer is older than what its caller could already see: a read is shared only with callers
/// who came before anything newer was published (a pass starting or ending, a sleep state). One who
/// comes after waits for the read in flight, then shares the next one with all who came after it.
/// </summary>
public sealed class PlanPreview
{
    private readonly Func<long> _published;
    private readonly Func<Preview> _plan;
    private readonly Lock _lock = new();
    private Task<Preview>? _running;
    private long _runningSince; // the generation that was published when the running read began
    private TaskCompletionSource<Preview>? _next;

    public PlanPreview(Reconciler reconciler) : this(() => reconciler.Current.Generation, reconciler.PlanNow) { }

    /// <param name="published">The number of the latest published snapshot.</param>
    /// <param name="plan">One read and plan of the host.</param>
    internal PlanPreview(Func<long> published, Func<Preview> plan) => (_published, _plan) = (published, plan);

    public Task<Preview> NowAsync()
    {
        var seen = _published();
        lock (_lock)
        {
            if (_running is not null && _runningSince >= seen) return _running;
            if (_running is null) return Start(NewFlight());
            return (_next ??= NewFlight()).Task;
        }
    }

    private static TaskCompletionSource<Preview> NewFlight() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Under the lock: the generation is taken before the read begins, so the read sees at least that much.</summary>
    private Task<Preview> Start(TaskCompletionSource<Preview> flight)
    {
        _runningSince = _published();
        _running = flight.Task;
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
            _running = null;
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
