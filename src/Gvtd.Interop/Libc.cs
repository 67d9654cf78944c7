using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// The few glibc calls the bus loop needs: an eventfd to wake poll() when another thread Posts work,
/// poll() itself, and clock_gettime(CLOCK_MONOTONIC) because sd_bus_get_timeout returns an absolute
/// CLOCK_MONOTONIC deadline. "libc.so.6" explicitly: plain "libc" would make the loader try libc.so,
/// which on glibc systems is a linker script, not an ELF object.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc.so.6";

    internal const int EFD_NONBLOCK = 0x800;
    internal const int EFD_CLOEXEC = 0x80000;
    internal const short POLLIN = 0x001;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int CLOCK_MONOTONIC = 1;

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec
    {
        public long Sec;
        public long NSec;
    }

    [LibraryImport(Lib, SetLastError = true)] internal static partial int eventfd(uint initval, int flags);
    [LibraryImport(Lib, SetLastError = true)] internal static partial int poll(PollFd* fds, ulong nfds, int timeout);
    [LibraryImport(Lib, SetLastError = true)] internal static partial nint read(int fd, void* buf, nuint count);
    [LibraryImport(Lib, SetLastError = true)] internal static partial nint write(int fd, void* buf, nuint count);
    [LibraryImport(Lib, SetLastError = true)] internal static partial int close(int fd);
    [LibraryImport(Lib)] internal static partial int clock_gettime(int clockId, Timespec* tp);
    /// <summary>For memory libsystemd malloc'ed and hands to us (sd_bus_path_encode/decode results).</summary>
    [LibraryImport(Lib)] internal static partial void free(void* p);

    internal static ulong MonotonicMicroseconds()
    {
        Timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (ulong)ts.Sec * 1_000_000UL + (ulong)ts.NSec / 1000UL;
    }
}
