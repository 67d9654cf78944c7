namespace Gvtd.Sysfs;

/// <summary>
/// The one seam between gvtd and a kernel: writing a sysfs attribute. The real implementation writes
/// the file; the simulator interprets the write the way the mdev core would. Reads are plain files
/// in both cases, so the reader is the same code against either.
/// Implementations throw <see cref="KernelWriteException"/> carrying the errno.
/// </summary>
public interface ISysfsWriter
{
    void Write(string path, string value);
}

/// <summary>Writes real sysfs attributes. May block (a remove waits for the VFIO user to let go).</summary>
public sealed class SysfsWriter : ISysfsWriter
{
    public void Write(string path, string value)
    {
        try
        {
            // RandomAccess.Write issues the write(2) now, so the kernel's errno comes back from this call
            // rather than from a later flush.
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
            RandomAccess.Write(handle, System.Text.Encoding.ASCII.GetBytes(value), 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw KernelWriteException.From(path, e);
        }
    }
}
