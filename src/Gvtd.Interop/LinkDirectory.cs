using System.Runtime.InteropServices;
using System.Text;

namespace Gvtd.Interop;

/// <summary>
/// Reads where the symlinks in one directory point (for /proc/PID/fd) with readdir and readlinkat only.
/// .NET's directory enumerator stats every symlink it meets to learn whether it points to a directory,
/// which tripled the syscalls of gvtd's per-pass /proc scan; this keeps it to one readlink per entry.
/// </summary>
public static unsafe partial class LinkDirectory
{
    public enum Result { Read, Gone, Unreadable }

    private const string Lib = "libc.so.6";
    private const int ENOENT = 2, ESRCH = 3;
    // glibc x86_64 struct dirent: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name[256].
    private const int NameOffset = 19;

    /// <summary>
    /// Adds to <paramref name="into"/> the targets that start with <paramref name="prefix"/>.
    /// Unreadable when the directory, or any link in it, could not be read for any reason but its
    /// being gone (EACCES from a missing CAP_SYS_PTRACE, EIO, EMFILE, ENOMEM ...): the caller must
    /// not read that as "no such link". Gone when the process exited meanwhile.
    /// </summary>
    public static Result ReadTargets(string directory, ReadOnlySpan<byte> prefix, List<string> into)
    {
        var dir = opendir(directory);
        if (dir == 0)
            return Classify(Marshal.GetLastPInvokeError());
        try
        {
            var fd = dirfd(dir);
            var target = stackalloc byte[512];
            var result = Result.Read;
            while (true)
            {
                // readdir says "end" and "error" both with NULL; errno (cleared before the call) tells them apart.
                var entry = readdir(dir);
                if (entry == 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    return errno == 0 ? result : Worse(result, Classify(errno));
                }
                var name = (byte*)entry + NameOffset;
                if (name[0] == (byte)'.') continue;
                var length = readlinkat(fd, name, target, 512);
                if (length < 0)
                {
                    // ENOENT: the file was closed meanwhile; anything else: we could not look.
                    result = Worse(result, Classify(Marshal.GetLastPInvokeError()));
                    continue;
                }
                var span = new ReadOnlySpan<byte>(target, (int)length);
                if (span.StartsWith(prefix)) into.Add(Encoding.UTF8.GetString(span));
            }
        }
        finally
        {
            closedir(dir);
        }
    }

    /// <summary>What an errno from opendir, readdir or readlinkat means for the scan: only a vanished process or file is "gone".</summary>
    public static Result Classify(int errno) => errno is ENOENT or ESRCH ? Result.Gone : Result.Unreadable;

    private static Result Worse(Result a, Result b) => a == Result.Unreadable || b == Result.Unreadable ? Result.Unreadable : Result.Read;

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial nint opendir(string name);
    [LibraryImport(Lib, SetLastError = true)] private static partial nint readdir(nint dir);
    [LibraryImport(Lib)] private static partial int dirfd(nint dir);
    [LibraryImport(Lib)] private static partial int closedir(nint dir);
    [LibraryImport(Lib, SetLastError = true)] private static partial nint readlinkat(int dirfd, byte* path, byte* buf, nuint size);
}
