using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// fsync(2) of a directory, which .NET cannot open: after a rename, it is the directory's entry
/// that must reach the disk for the new file to survive a power cut.
/// </summary>
public static partial class Durable
{
    private const string Lib = "libc.so.6";
    private const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000;

    /// <summary>Flushes <paramref name="directory"/>'s entries; throws IOException with the errno when it cannot.</summary>
    public static void SyncDirectory(string directory)
    {
        var fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) throw new IOException($"cannot open {directory} to sync it: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        try
        {
            if (fsync(fd) != 0)
                throw new IOException($"cannot sync {directory}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
        finally
        {
            Libc.close(fd);
        }
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int open(string path, int flags);
    [LibraryImport(Lib, SetLastError = true)] private static partial int fsync(int fd);
}
