using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// The few glibc calls the /dev/vfio watch needs: an eventfd to wake its poll() on Dispose, poll()
/// itself, read, write and close. "libc.so.6" explicitly: plain "libc" would make the loader try
/// libc.so, which on glibc systems is a linker script, not an ELF object.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc.so.6";

    internal const int EFD_NONBLOCK = 0x800;
    internal const int EFD_CLOEXEC = 0x80000;
    internal const short POLLIN = 0x001, POLLERR = 0x008, POLLHUP = 0x010, POLLNVAL = 0x020;
    internal const int EINTR = 4;

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [LibraryImport(Lib, SetLastError = true)] internal static partial int eventfd(uint initval, int flags);
    [LibraryImport(Lib, SetLastError = true)] internal static partial int poll(PollFd* fds, ulong nfds, int timeout);
    [LibraryImport(Lib, SetLastError = true)] internal static partial nint read(int fd, void* buf, nuint count);
    [LibraryImport(Lib, SetLastError = true)] internal static partial nint write(int fd, void* buf, nuint count);
    [LibraryImport(Lib, SetLastError = true)] internal static partial int close(int fd);
}
