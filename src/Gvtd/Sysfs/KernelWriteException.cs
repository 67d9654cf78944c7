namespace Gvtd.Sysfs;

/// <summary>The errno values the mdev core returns for create and remove (docs/kernel/mdev-sysfs.md).</summary>
public enum Errno
{
    EPERM = 1, ENOENT = 2, EIO = 5, EACCES = 13, EBUSY = 16, EEXIST = 17, ENODEV = 19, EINVAL = 22, ENOSPC = 28, ERANGE = 34,
}

/// <summary>A sysfs write the kernel refused, with its errno, so callers can explain it in plain words.</summary>
public sealed class KernelWriteException(string path, Errno errno, string detail) : Exception($"{path}: {detail}")
{
    public string Path { get; } = path;
    public Errno Errno { get; } = errno;

    public static KernelWriteException From(string path, Exception e) => e switch
    {
        UnauthorizedAccessException => new(path, Errno.EACCES, "permission denied"),
        FileNotFoundException or DirectoryNotFoundException => new(path, Errno.ENOENT, "no such file"),
        // On Unix .NET puts the raw errno in HResult for the I/O errors it does not map to a type.
        IOException io when Enum.IsDefined((Errno)io.HResult) => new(path, (Errno)io.HResult, io.Message),
        _ => new(path, Errno.EIO, e.Message),
    };
}
