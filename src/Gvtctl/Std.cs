using Gvtd.Interop;
using System.Text;

namespace Gvtctl;

/// <summary>
/// stdout and stderr written with write(2), not through System.Console: Console's streams (and Console.Out,
/// Console.WindowWidth) switch a terminal into keypad mode with an escape sequence on first use, and gvtctl writes
/// none unless it colours. A FileStream would do on a terminal but not on a redirected file, where it writes at
/// its own offset and overwrites what another process appended (`{ gvtctl status; gvtctl list; } > out`).
/// </summary>
internal static class Std
{
    public static readonly TextWriter Out = new StreamWriter(new FdStream(1), new UTF8Encoding(false)) { AutoFlush = true };
    public static readonly TextWriter Err = new StreamWriter(new FdStream(2), new UTF8Encoding(false)) { AutoFlush = true };

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
        public override void Write(byte[] buffer, int offset, int count) => Stdio.WriteAll(fd, buffer.AsSpan(offset, count));
    }

    /// <summary>The terminal's columns on stdout, or null when unknown (COLUMNS is honoured first).</summary>
    public static int? TerminalWidth() =>
        int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns > 0 ? columns : Stdio.TerminalColumns(1);
}
