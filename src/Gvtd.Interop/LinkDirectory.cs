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
    public enum Result { Read, Gone, Denied }

    private const string Lib = "libc.so.6";
    private const int EACCES = 13, EPERM = 1;
    // glibc x86_64 struct dirent: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name[256].
    private const int NameOffset = 19;

    /// <summary>
    /// Adds to <paramref name="into"/> the targets that start with <paramref name="prefix"/>. Denied
    /// when the directory, or any link in it, could not be read for lack of permission: for
    /// /proc/PID/fd of another user's process that is what a missing CAP_SYS_PTRACE looks like,
    /// and the caller must not read it as "no such link".
    /// </summary>
    public static Result ReadTargets(string directory, ReadOnlySpan<byte> prefix, List<string> into)
    {
        var dir = opendir(directory);
        if (dir == 0)
            return Marshal.GetLastPInvokeError() is EACCES or EPERM ? Result.Denied : Result.Gone;
        try
        {
            var fd = dirfd(dir);
            var target = stackalloc byte[512];
            var result = Result.Read;
            for (var entry = readdir(dir); entry != 0; entry = readdir(dir))
            {
                var name = (byte*)entry + NameOffset;
                if (name[0] == (byte)'.') continue;
                var length = readlinkat(fd, name, target, 512);
                if (length < 0)
                {
                    // ENOENT: the file was closed meanwhile. EACCES/EPERM: we may not look.
                    if (Marshal.GetLastPInvokeError() is EACCES or EPERM) result = Result.Denied;
                    continue;
                }
                var span = new ReadOnlySpan<byte>(target, (int)length);
                if (span.StartsWith(prefix)) into.Add(Encoding.UTF8.GetString(span));
            }
            return result;
        }
        finally
        {
            closedir(dir);
        }
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial nint opendir(string name);
    [LibraryImport(Lib)] private static partial nint readdir(nint dir);
    [LibraryImport(Lib)] private static partial int dirfd(nint dir);
    [LibraryImport(Lib)] private static partial int closedir(nint dir);
    [LibraryImport(Lib, SetLastError = true)] private static partial nint readlinkat(int dirfd, byte* path, byte* buf, nuint size);
}
