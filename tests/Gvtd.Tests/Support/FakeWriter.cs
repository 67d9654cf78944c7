using System.Collections.Concurrent;
using Gvtd.Sysfs;

namespace Gvtd.Tests.Support;

/// <summary>Records writes; can refuse some with an errno or hold one until released.</summary>
public sealed class FakeWriter : IKernel
{
    public ConcurrentQueue<(string Path, string Value)> Writes { get; } = new();

    /// <summary>Returns the errno to fail a write with, or null to let it succeed.</summary>
    public Func<string, string, Errno?> Fail { get; set; } = (_, _) => null;

    /// <summary>While set, every write waits for this gate.</summary>
    public ManualResetEventSlim? Gate { get; set; }

    public void Write(string path, string value)
    {
        Writes.Enqueue((path, value));
        Gate?.Wait();
        if (Fail(path, value) is { } errno) throw new KernelWriteException(path, errno, errno.ToString());
    }
}
