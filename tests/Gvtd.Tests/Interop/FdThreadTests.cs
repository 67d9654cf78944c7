using System.Runtime.InteropServices;
using Gvtd.Interop;

namespace Gvtd.Tests.Interop;

/// <summary>
/// The poll thread under a descriptor that goes bad: a pipe whose writer closed reports POLLHUP
/// for ever and reads nothing. Before, the loop polled it again at once, for ever, at 100% CPU;
/// now it stops and says why.
/// </summary>
public sealed unsafe partial class FdThreadTests
{
    private sealed class PipeReader : FdThread
    {
        public int Reads;

        private PipeReader(int fd, int wake) : base(fd, wake, "test-pipe") => Start();

        public static PipeReader Open(int fd) => TryWake(fd, out var wake) ? new PipeReader(fd, wake) : throw new InvalidOperationException("no eventfd");

        protected override bool Drain()
        {
            var buffer = stackalloc byte[64];
            var got = false;
            while (read(Fd, buffer, 64) > 0) got = true;
            if (got) Interlocked.Increment(ref Reads);
            return got;
        }
    }

    [Fact]
    public void AHungUpDescriptor_StopsTheThread_WithTheReason_InsteadOfSpinning()
    {
        var fds = new int[2];
        fixed (int* p = fds) Assert.Equal(0, pipe2(p, 0x800 /* O_NONBLOCK */));
        using var reader = PipeReader.Open(fds[0]);
        using var stopped = new ManualResetEventSlim();
        string? reason = null;
        reader.Stopped += why =>
        {
            reason = why;
            stopped.Set();
        };
        byte one = 1;
        write(fds[1], &one, 1);
        SpinWait.SpinUntil(() => Volatile.Read(ref reader.Reads) == 1, TimeSpan.FromSeconds(5));
        Assert.Equal(1, reader.Reads);

        close(fds[1]);

        Assert.True(stopped.Wait(TimeSpan.FromSeconds(5)), "the thread still polls a hung-up pipe");
        Assert.Contains("hung up", reason);
        Assert.Equal(reason, reader.StoppedBecause);
    }

    [LibraryImport("libc.so.6")] private static partial int pipe2(int* fds, int flags);
    [LibraryImport("libc.so.6")] private static partial nint read(int fd, byte* buffer, nint count);
    [LibraryImport("libc.so.6")] private static partial nint write(int fd, byte* buffer, nint count);
    [LibraryImport("libc.so.6")] private static partial int close(int fd);
}
