namespace Gvtd.Interop;

/// <summary>
/// A thread of its own that sleeps in poll(2) on one non-blocking file descriptor and drains it
/// whenever it is readable, until Dispose wakes it through an eventfd and it closes both. Shared by
/// the /dev/vfio inotify watch and the uevent socket: neither polls on a timer.
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

    protected bool Disposed => _disposed;

    /// <summary>Starts the thread; call last in the derived constructor.</summary>
    protected void Start() => _thread.Start();

    /// <summary>Reads everything there is now (the fd is non-blocking).</summary>
    protected abstract void Drain();

    private void Loop()
    {
        var fds = stackalloc Libc.PollFd[2];
        fds[0] = new Libc.PollFd { Fd = Fd, Events = Libc.POLLIN };
        fds[1] = new Libc.PollFd { Fd = _wake, Events = Libc.POLLIN };
        while (!_disposed)
        {
            if (Libc.poll(fds, 2, -1) <= 0) continue;
            if (!_disposed) Drain();
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
