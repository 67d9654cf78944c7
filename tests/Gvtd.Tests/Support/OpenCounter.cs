using System.Runtime.InteropServices;
using System.Text;

namespace Gvtd.Tests.Support;

/// <summary>
/// Counts how often any process opens one file of a directory (inotify IN_OPEN), from outside the
/// code under test: every sysfs read of gvtd opens each type's <c>available_instances</c> once, so
/// this counts reads without a hook in gvtd, in this process or in a daemon of its own.
///
/// The directory is watched, not the file: inotify merges an event into the last one queued only
/// when they are identical, and a read opens the type's other files in between, so serial reads are
/// counted exactly (overlapping ones may be merged, which only ever counts fewer).
/// </summary>
public sealed unsafe partial class OpenCounter : IDisposable
{
    private const uint IN_OPEN = 0x20, IN_Q_OVERFLOW = 0x4000;
    private readonly int _fd;
    private readonly string _dir, _name;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private long _opens;
    private volatile bool _overflowed;

    public OpenCounter(string dir, string name)
    {
        (_dir, _name) = (dir, name);
        _fd = inotify_init1(0x80000 /* IN_CLOEXEC */);
        if (_fd < 0 || inotify_add_watch(_fd, dir, IN_OPEN) < 0)
            throw new InvalidOperationException($"cannot watch {dir}: errno {Marshal.GetLastPInvokeError()}");
        _thread = new Thread(Run) { IsBackground = true, Name = "open-counter" };
        _thread.Start();
    }

    /// <summary>Opens seen so far. Call <see cref="Settle"/> first to count every open made before it.</summary>
    public long Opens => _overflowed ? throw new InvalidOperationException("the inotify queue overflowed: opens were lost") : Interlocked.Read(ref _opens);

    /// <summary>Waits until every open made before this call is counted (by making one more, and waiting for it).</summary>
    public void Settle()
    {
        var target = Interlocked.Read(ref _opens);
        // Another file first, so this open is never merged into a last one still queued.
        File.ReadAllText(Directory.EnumerateFiles(_dir).First(f => Path.GetFileName(f) != _name));
        File.ReadAllText(Path.Combine(_dir, _name));
        if (!SpinWait.SpinUntil(() => _overflowed || Interlocked.Read(ref _opens) > target, TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"hang guard: inotify never reported the open of {_name} made to settle the count");
        Interlocked.Decrement(ref _opens); // not gvtd's
    }

    private void Run()
    {
        var buffer = new byte[64 * 1024];
        var wanted = Encoding.UTF8.GetBytes(_name);
        while (!_stopping)
        {
            nint got;
            fixed (byte* p = buffer) got = read(_fd, p, buffer.Length);
            if (got <= 0) continue; // EINTR
            for (var at = 0; at < got;)
            {
                var mask = BitConverter.ToUInt32(buffer, at + 4);
                var length = (int)BitConverter.ToUInt32(buffer, at + 12);
                var name = buffer.AsSpan(at + 16, length).TrimEnd((byte)0);
                if ((mask & IN_Q_OVERFLOW) != 0) _overflowed = true;
                else if ((mask & IN_OPEN) != 0 && name.SequenceEqual(wanted)) Interlocked.Increment(ref _opens);
                at += 16 + length;
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        File.ReadAllText(Path.Combine(_dir, _name)); // wakes the blocked read
        _thread.Join();
        close(_fd);
    }

    [LibraryImport("libc.so.6", SetLastError = true)] private static partial int inotify_init1(int flags);
    [LibraryImport("libc.so.6", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int inotify_add_watch(int fd, string path, uint mask);
    [LibraryImport("libc.so.6")] private static partial nint read(int fd, byte* buffer, nint count);
    [LibraryImport("libc.so.6")] private static partial int close(int fd);
}
