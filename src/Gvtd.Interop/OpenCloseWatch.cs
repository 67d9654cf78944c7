using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// Tells when any file in some directories is opened or closed (inotify IN_OPEN / IN_CLOSE), which
/// for /dev/vfio means some process took or let go of a VFIO group or device, including by exiting.
/// Events are only counted, never interpreted: the caller rescans when the count moves. A thread of
/// its own sleeps on the inotify fd until something happens or Dispose wakes it.
/// </summary>
public sealed unsafe partial class OpenCloseWatch : FdThread
{
    private const string Lib = "libc.so.6";
    private const int IN_NONBLOCK = 0x800, IN_CLOEXEC = 0x80000;
    private const uint Mask = 0x20 /* IN_OPEN */ | 0x08 /* IN_CLOSE_WRITE */ | 0x10 /* IN_CLOSE_NOWRITE */
        | 0x100 /* IN_CREATE */ | 0x200 /* IN_DELETE */ | 0x400 /* IN_DELETE_SELF */ | 0x800 /* IN_MOVE_SELF */;

    private long _changes;

    private OpenCloseWatch(int fd, int wake) : base(fd, wake, "gvtd-vfio-watch") => Start();

    /// <summary>How many batches of events have arrived; a change of this number means "look again".</summary>
    public long Changes => Interlocked.Read(ref _changes);

    /// <summary>Raised on the watch's own thread after each batch.</summary>
    public event Action? Changed;

    /// <summary>Watches the directories that exist; null when none can be watched (then the caller must always rescan).</summary>
    public static OpenCloseWatch? TryStart(IEnumerable<string> directories)
    {
        var fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0) return null;
        if (directories.Count(dir => Directory.Exists(dir) && inotify_add_watch(fd, dir, Mask) >= 0) == 0)
        {
            Libc.close(fd);
            return null;
        }
        return TryWake(fd, out var wake) ? new OpenCloseWatch(fd, wake) : null;
    }

    protected override bool Drain()
    {
        var buffer = stackalloc byte[4096];
        var drained = false;
        while (Libc.read(Fd, buffer, 4096) > 0) drained = true;
        if (!drained) return false;
        Interlocked.Increment(ref _changes);
        Changed?.Invoke();
        return true;
    }

    [LibraryImport(Lib)] private static partial int inotify_init1(int flags);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial int inotify_add_watch(int fd, string path, uint mask);
}
