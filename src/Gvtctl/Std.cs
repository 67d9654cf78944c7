using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Gvtctl;

/// <summary>
/// stdout and stderr without System.Console's terminal set-up: Console.Out (and Console.WindowWidth, which locks
/// it) switch a terminal into keypad mode with an escape sequence, and gvtctl writes none unless it colours.
/// </summary>
internal static partial class Std
{
    public static readonly TextWriter Out = Open(1);
    public static readonly TextWriter Err = Open(2);

    // Not Console.OpenStandardOutput either: its stream initialises the terminal on the first write.
    private static StreamWriter Open(int fd) =>
        new(new FileStream(new SafeFileHandle(fd, ownsHandle: false), FileAccess.Write, 1), new UTF8Encoding(false)) { AutoFlush = true };

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
