using System.Runtime.CompilerServices;

namespace Gvtd.Tests.Support;

/// <summary>
/// xunit runs test classes in parallel on pool threads, and many tests block one while they wait
/// on a process, a bus or the fake clock. With the pool's default minimum (one thread per core: two
/// on CI), the daemon's own continuations then wait for the pool to grow, about one thread a
/// second, which made latencies look long and timing tests flaky. The floor is raised once here.
/// </summary>
internal static class ThreadPoolWarmth
{
    [ModuleInitializer]
    internal static void RaiseTheFloor()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 64), Math.Max(io, 64));
    }
}
