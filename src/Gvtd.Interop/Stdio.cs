using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// Raw output to a file descriptor and the terminal's width, for gvtctl: write(2) instead of
/// System.Console (whose first use sends a terminal escape sequence) and TIOCGWINSZ.
/// </summary>
public static partial class Stdio
{
    private const string Lib = "libc.so.6";
    private const int EINTR = 4, EAGAIN = 11, EPIPE = 32;
    private const ulong TIOCGWINSZ = 0x5413; // x86-64 and arm64

    /// <summary>The reader of a pipe went away (EPIPE), as with `gvtctl list | head -1`.</summary>
    public sealed class ReaderGoneException() : IOException("the output's reader has gone");

    /// <summary>Writes all of <paramref name="data"/> to <paramref name="fd"/>, retrying short and interrupted writes.</summary>
    public static unsafe void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* start = data)
        {
            var offset = 0;
            while (offset < data.Length)
            {
                var n = write(fd, start + offset, (nint)(data.Length - offset));
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno is EINTR or EAGAIN) continue;
                    if (errno == EPIPE) throw new ReaderGoneException();
                    throw new IOException($"cannot write to file descriptor {fd}: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
                offset += (int)n;
            }
        }
    }

    /// <summary>The columns of the terminal on <paramref name="fd"/>, or null when it is not a terminal.</summary>
    public static int? TerminalColumns(int fd) =>
        ioctl(fd, TIOCGWINSZ, out var size) == 0 && size.Columns > 0 ? size.Columns : null;

    [StructLayout(LayoutKind.Sequential)]
    private struct WinSize
    {
        public ushort Rows, Columns, XPixels, YPixels;
    }

    [LibraryImport(Lib, SetLastError = true)] private static unsafe partial nint write(int fd, byte* buffer, nint count);
    [LibraryImport(Lib)] private static partial int ioctl(int fd, ulong request, out WinSize size);
}
