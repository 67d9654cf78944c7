using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// mkfifo(3), which .NET has no call for, and what ends the waits on one. The simulator puts a FIFO
/// where a sysfs attribute was to make its reads block as the kernel's do while a device lock is
/// held: an open(2) for reading waits until something opens it for writing (docs/kernel/device-lock.md).
/// </summary>
public static unsafe partial class Fifo
{
    private const string Lib = "libc.so.6";
    private const int O_WRONLY = 0x1, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000, ENXIO = 6;

    /// <summary>Makes a FIFO at <paramref name="path"/>, mode 0644; throws IOException with the errno when it cannot.</summary>
    public static void Create(string path)
    {
        if (mkfifo(path, 0b110_100_100) != 0)
            throw new IOException($"cannot make a FIFO at {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>
    /// A second name for the FIFO (link(2)), so that it can still be opened by name once another file
    /// has replaced it at its first: a reader that looked the path up before the swap reaches this inode.
    /// </summary>
    public static void Link(string fifo, string second)
    {
        if (link(fifo, second) != 0)
            throw new IOException($"cannot link {fifo} to {second}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>
    /// Ends the wait of every reader of the FIFO: while some process has it open for reading or waits
    /// in open(2) to (the kernel counts both, so an open for writing without blocking then succeeds;
    /// with none it fails with ENXIO), opens it for writing and closes it, which ends that reader's
    /// wait with end of file. Only the first such open writes <paramref name="value"/>, so that the
    /// readers of that moment get it once (the first read takes it; others then, and any reader that
    /// comes later, an empty read) and none is left waiting forever. Returns once none is left.
    /// <paramref name="hangGuard"/> bounds the loop should a reader keep the FIFO open for good.
    /// </summary>
    public static void ServeReaders(string path, ReadOnlySpan<byte> value, TimeSpan hangGuard)
    {
        var since = Stopwatch.StartNew();
        var written = false;
        while (since.Elapsed < hangGuard)
        {
            var fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == ENXIO) return;
                throw new IOException($"cannot open {path} to end its readers' wait: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
            // Writing again would add a second copy for a reader yet to read the first.
            if (!written)
                fixed (byte* bytes = value)
                    _ = write(fd, bytes, (nuint)value.Length);
            written = true;
            _ = close(fd);
            // Let the readers just served read and close before asking again whether any is left.
            Thread.Sleep(1);
        }
        throw new TimeoutException($"hang guard: a reader of {path} kept it open for {hangGuard.TotalSeconds} s after its wait ended");
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int mkfifo(string path, uint mode);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int link(string existing, string second);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int open(string path, int flags);
    [LibraryImport(Lib, SetLastError = true)] private static partial nint write(int fd, byte* buf, nuint count);
    [LibraryImport(Lib, SetLastError = true)] private static partial int close(int fd);
}
