using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// signal(2), for one job: .NET's PosixSignalRegistration installs no handler for a signal the
/// process inherited as ignored ("we respect ignored signals", in the runtime's pal_signal.c), so a
/// gvtd started under nohup, or by a shell or test runner that ignores SIGHUP, would never see the
/// SIGHUP that means "re-read the desired state". gvtd resets SIGHUP to its default just before it
/// registers its own handler.
/// </summary>
public static partial class SignalDisposition
{
    private const string Lib = "libc.so.6";
    public const int SIGHUP = 1;
    private const nint SIG_DFL = 0;

    /// <summary>Puts <paramref name="signal"/> back to its default disposition; false if the kernel refused.</summary>
    public static bool ResetToDefault(int signal) => Signal(signal, SIG_DFL) != -1;

    [LibraryImport(Lib, EntryPoint = "signal", SetLastError = true)] private static partial nint Signal(int signum, nint handler);
}
