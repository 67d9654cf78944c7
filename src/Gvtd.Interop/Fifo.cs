using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// mkfifo(3), which .NET has no call for. The simulator puts a FIFO where a sysfs attribute was to
/// make its reads block as the kernel's do while a device lock is held: an open(2) for reading
/// waits until something opens it for writing (docs/kernel/device-lock.md).
/// </summary>
public static partial class Fifo
{
    private const string Lib = "libc.so.6";

    /// <summary>Makes a FIFO at <paramref name="path"/>, mode 0644; throws IOException with the errno when it cannot.</summary>
    public static void Create(string path)
    {
        if (mkfifo(path, 0b110_100_100) != 0)
            throw new IOException($"cannot make a FIFO at {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int mkfifo(string path, uint mode);
}
