using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// The kernel's own uevents (a NETLINK_KOBJECT_UEVENT socket, multicast group 1), which need no
/// udev and reach containers and sandboxed units alike. A thread of its own receives them and hands
/// each message's bytes to the caller; a lost message (the socket's buffer overran) is reported as
/// an empty one, meaning "something happened, look again". Linux only, like the rest of gvtd.
/// </summary>
public sealed unsafe partial class UeventSocket : FdThread
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

    private readonly Action<ReadOnlySpan<byte>> _onMessage;
    private readonly byte[] _buffer = new byte[16384];

    private UeventSocket(int fd, int wake, Action<ReadOnlySpan<byte>> onMessage) : base(fd, wake, "gvtd-uevents")
    {
        _onMessage = onMessage;
        Start();
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
        if (bind(fd, &address, sizeof(SockaddrNl)) < 0)
        {
            error = $"cannot listen to kernel uevents: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
            Libc.close(fd);
            return null;
        }
        if (!TryWake(fd, out var wake))
        {
            error = "cannot make an eventfd";
            return null;
        }
        error = null;
        return new UeventSocket(fd, wake, onMessage);
    }

    protected override bool Drain()
    {
        var got = false;
        while (!Disposed)
        {
            nint n;
            fixed (byte* start = _buffer) n = recv(Fd, start, _buffer.Length, 0);
            if (n > 0)
            {
                _onMessage(_buffer.AsSpan(0, (int)n));
                got = true;
                continue;
            }
            var errno = Marshal.GetLastPInvokeError();
            if (n < 0 && errno == ENOBUFS)
            {
                _onMessage([]); // the queue overflowed: reading the error clears it
                got = true;
            }
            else if (n < 0 && errno == EINTR) continue;
            else break; // EAGAIN: drained; anything else: the poll loop decides
        }
        return got;
    }

    [LibraryImport(Lib, SetLastError = true)] private static partial int socket(int domain, int type, int protocol);
    [LibraryImport(Lib, SetLastError = true)] private static partial int bind(int fd, SockaddrNl* address, int length);
    [LibraryImport(Lib, SetLastError = true)] private static partial nint recv(int fd, byte* buffer, nint length, int flags);
}
