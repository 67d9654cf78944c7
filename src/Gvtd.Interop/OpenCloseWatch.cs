using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// Tells when any file in some directories is opened or closed (inotify IN_OPEN / IN_CLOSE), which
/// for /dev/vfio means some process took or let go of a VFIO group or device, including by exiting.
/// Events are only counted, never interpreted: the caller rescans when the count moves. A thread of
/// its own polls the inotify fd with a timeout so Dispose can stop it.
/// </summary>
public sealed unsafe partial class OpenCloseWatch : IDisposable
{
    private const string Lib = "libc.so.6";
    private const int IN_NONBLOCK = 0x800, IN_CLOEXEC = 0x80000;
    private const uint Mask = 0x20 /* IN_OPEN */ | 0x08 /* IN_CLOSE_WRITE */ | 0x10 /* IN_CLOSE_NOWRITE */
        | 0x100 /* IN_CREATE */ | 0x200 /* IN_DELETE */ | 0x400 /* IN_DELETE_SELF */ | 0x800 /* IN_MOVE_SELF */;

    private readonly int _fd;
    private readonly int _wake;
    private readonly Thread _thread;
    private volatile bool _disposed;
    private long _changes;

    private OpenCloseWatch(int fd, int wake)
    {
        _fd = fd;
        _wake = wake;
        _thread = new Thread(Loop) { Name = "gvtd-vfio-watch", IsBackground = true };
        _thread.Start();
    }

    /// <summary>How many batches of events have arrived; a change of this number means "look again".</summary>
    public long Changes => Interlocked.Read(ref _changes);

    /// <summary>Watches the directories that exist; null when none can be watched (then the caller must always rescan).</summary>
    public static OpenCloseWatch? TryStart(IEnumerable<string> directories)
    {
        var fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0) return null;
        var watched = directories.Count(dir => Directory.Exists(dir) && inotify_add_watch(fd, dir, Mask) >= 0);
        var wake = watched > 0 ? Libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC) : -1;
        if (wake >= 0) return new OpenCloseWatch(fd, wake);
        Libc.close(fd);
        return null;
    }

    private void Loop()
    {
        var buffer = stackalloc byte[4096];
        var fds = stackalloc Libc.PollFd[2];
        fds[0] = new Libc.PollFd { Fd = _fd, Events = Libc.POLLIN };
        fds[1] = new Libc.PollFd { Fd = _wake, Events = Libc.POLLIN };
        while (!_disposed)
        {
            if (Libc.poll(fds, 2, -1) <= 0) continue;
            var drained = false;
            while (Libc.read(_fd, buffer, 4096) > 0) drained = true;
            if (drained) Interlocked.Increment(ref _changes);
        }
        Libc.close(_fd);
        Libc.close(_wake);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        ulong one = 1;
        Libc.write(_wake, &one, sizeof(ulong));
        _thread.Join(TimeSpan.FromSeconds(2));
    }

    [LibraryImport(Lib)] private static partial int inotify_init1(int flags);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial int inotify_add_watch(int fd, string path, uint mask);
}
