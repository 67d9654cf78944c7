using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// The kernel's own uevents (a NETLINK_KOBJECT_UEVENT socket, multicast group 1), which need no
/// udev and reach containers and sandboxed units alike. A thread of its own receives them and hands
/// each message's bytes to the caller; a lost message (the socket's buffer overran) is reported as
/// an empty one, meaning "something happened, look again". Linux only, like the rest of gvtd.
/// </summary>
public sealed unsafe partial class UeventSocket : IDisposable
{
    private const string Lib = "libc.so.6";
    private const int AF_NETLINK = 16, SOCK_DGRAM = 2, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000;
    private const int NETLINK_KOBJECT_UEVENT = 15, KernelGroup = 1, ENOBUFS = 105, EINTR = 4;

    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrNl
    {
        public ushort Family;
        public ushort Pad;
        public uint Pid;
        public uint Groups;
    }

    private readonly int _fd;
    private readonly int _wake;
    private readonly Action<ReadOnlySpan<byte>> _onMessage;
    private readonly Thread _thread;
    private volatile bool _disposed;

    private UeventSocket(int fd, int wake, Action<ReadOnlySpan<byte>> onMessage)
    {
        _fd = fd;
        _wake = wake;
        _onMessage = onMessage;
        _thread = new Thread(Loop) { Name = "gvtd-uevents", IsBackground = true };
        _thread.Start();
    }

    /// <summary>Listens, or returns null with the reason (for example RestrictAddressFamilies= without AF_NETLINK).</summary>
    public static UeventSocket? TryOpen(Action<ReadOnlySpan<byte>> onMessage, out string? error)
    {
        var fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
        if (fd < 0)
        {
            error = $"cannot open a netlink socket: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
            return null;
        }
        var address = new SockaddrNl { Family = AF_NETLINK, Groups = KernelGroup };
        var wake = -1;
        if (bind(fd, &address, sizeof(SockaddrNl)) < 0 || (wake = Libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC)) < 0)
        {
            error = $"cannot listen to kernel uevents: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
            Libc.close(fd);
            return null;
        }
        error = null;
        return new UeventSocket(fd, wake, onMessage);
    }

    private void Loop()
    {
        const int Size = 16384;
        var buffer = new byte[Size];
        var fds = stackalloc Libc.PollFd[2];
        fds[0] = new Libc.PollFd { Fd = _fd, Events = Libc.POLLIN };
        fds[1] = new Libc.PollFd { Fd = _wake, Events = Libc.POLLIN };
        while (!_disposed)
        {
            if (Libc.poll(fds, 2, -1) <= 0) continue;
            while (!_disposed)
            {
                nint n;
                fixed (byte* start = buffer) n = recv(_fd, start, Size, 0);
                if (n > 0)
                {
                    _onMessage(buffer.AsSpan(0, (int)n));
                    continue;
                }
                var errno = Marshal.GetLastPInvokeError();
                if (n < 0 && errno == ENOBUFS) _onMessage([]);
                else if (n < 0 && errno == EINTR) continue;
                break; // EAGAIN: drained
            }
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

    [LibraryImport(Lib, SetLastError = true)] private static partial int socket(int domain, int type, int protocol);
    [LibraryImport(Lib, SetLastError = true)] private static partial int bind(int fd, SockaddrNl* address, int length);
    [LibraryImport(Lib, SetLastError = true)] private static partial nint recv(int fd, byte* buffer, nint length, int flags);
}
