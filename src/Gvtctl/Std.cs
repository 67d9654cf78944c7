using System.Runtime.InteropServices;
using System.Text;

namespace Gvtctl;

/// <summary>
/// stdout and stderr written with write(2), not through System.Console: Console's streams (and Console.Out,
/// Console.WindowWidth) switch a terminal into keypad mode with an escape sequence on first use, and gvtctl writes
/// none unless it colours. A FileStream would do on a terminal but not on a redirected file, where it writes at
/// its own offset and overwrites what another process appended (`{ gvtctl status; gvtctl list; } > out`).
/// </summary>
internal static partial class Std
{
    public static readonly TextWriter Out = new StreamWriter(new FdStream(1), new UTF8Encoding(false)) { AutoFlush = true };
    public static readonly TextWriter Err = new StreamWriter(new FdStream(2), new UTF8Encoding(false)) { AutoFlush = true };

    private const int EINTR = 4, EAGAIN = 11;

    [DllImport("libc", EntryPoint = "write", SetLastError = true)]
    private static extern nint Write(int fd, ref byte buffer, nint count);

    /// <summary>Thrown when the reader went away (EPIPE): gvtctl then stops quietly, like other tools.</summary>
    internal sealed class ReaderGoneException() : IOException("the output's reader has gone");

    private sealed class FdStream(int fd) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            while (count > 0)
            {
                nint n = Std.Write(fd, ref buffer[offset], count);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno is EINTR or EAGAIN) continue;
                    if (errno == 32) throw new ReaderGoneException();
                    throw new IOException($"cannot write to file descriptor {fd}: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
                offset += (int)n;
                count -= (int)n;
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct WinSize
    {
        public ushort Rows, Columns, XPixels, YPixels;
    }

    private const ulong TIOCGWINSZ = 0x5413; // x86-64 and arm64

    [DllImport("libc", EntryPoint = "ioctl")]
    private static extern int IoctlWinSize(int fd, ulong request, out WinSize size);

    /// <summary>The terminal's columns on stdout, or null when unknown (COLUMNS is honoured first).</summary>
    public static int? TerminalWidth()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns > 0)
            return columns;
        try
        {
            return IoctlWinSize(1, TIOCGWINSZ, out var size) == 0 && size.Columns > 0 ? size.Columns : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
