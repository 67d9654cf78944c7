using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// A thread of its own that sleeps in poll(2) on one non-blocking file descriptor and drains it
/// whenever it is readable, until Dispose wakes it through an eventfd and it closes both. Shared by
/// the /dev/vfio inotify watch and the uevent socket: neither polls on a timer. A poll that fails,
/// a descriptor that is no longer valid, or an error or hang-up that draining does not clear ends
/// the thread with <see cref="Stopped"/> raised, rather than spinning on it.
/// </summary>
public abstract unsafe class FdThread : IDisposable
{
    private readonly int _wake;
    private readonly Thread _thread;
    private volatile bool _disposed;

    /// <summary>Takes ownership of <paramref name="fd"/>; false (and fd closed) when no eventfd could be made.</summary>
    protected static bool TryWake(int fd, out int wake)
    {
        wake = Libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        if (wake >= 0) return true;
        Libc.close(fd);
        return false;
    }

    protected FdThread(int fd, int wake, string name)
    {
        Fd = fd;
        _wake = wake;
        _thread = new Thread(Loop) { Name = name, IsBackground = true };
    }

    protected int Fd { get; }

    /// <summary>Raised once, on the thread, when it ends for a reason other than Dispose, with that reason.</summary>
    public event Action<string>? Stopped;

    /// <summary>Why the thread ended by itself; null while it runs (or after Dispose).</summary>
    public string? StoppedBecause { get; private set; }

    protected bool Disposed => _disposed;

    /// <summary>Starts the thread; call last in the derived constructor.</summary>
    protected void Start() => _thread.Start();

    /// <summary>Reads everything there is now (the fd is non-blocking); false when it got nothing at all.</summary>
    protected abstract bool Drain();

    /// <summary>Error or hang-up events in a row that draining did not clear before the thread gives up.</summary>
    private const int MaxFruitless = 16;

    private void Loop()
    {
        var fds = stackalloc Libc.PollFd[2];
        fds[0] = new Libc.PollFd { Fd = Fd, Events = Libc.POLLIN };
        fds[1] = new Libc.PollFd { Fd = _wake, Events = Libc.POLLIN };
        var fruitless = 0;
        string? why = null;
        while (!_disposed && why is null)
        {
            if (Libc.poll(fds, 2, -1) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno != Libc.EINTR) why = $"poll failed: {Marshal.GetPInvokeErrorMessage(errno)}";
                continue;
            }
            var events = fds[0].REvents;
            if (_disposed || events == 0) continue;
            if ((events & Libc.POLLNVAL) != 0)
                why = "its descriptor is no longer valid";
            else if (Drain() || (events & (Libc.POLLERR | Libc.POLLHUP)) == 0)
                fruitless = 0;
            else if (++fruitless >= MaxFruitless)
                why = (events & Libc.POLLHUP) != 0 ? "the descriptor was hung up" : "the descriptor reports an error that reading does not clear";
        }
        if (why is not null && !_disposed)
        {
            StoppedBecause = why;
            Stopped?.Invoke(why);
        }
        Libc.close(Fd);
        Libc.close(_wake);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        ulong one = 1;
        Libc.write(_wake, &one, sizeof(ulong));
        _thread.Join(TimeSpan.FromSeconds(2));
        GC.SuppressFinalize(this);
    }
}
