namespace Gvtd.Sysfs;

/// <summary>
/// The one seam between gvtd and a kernel: writing a sysfs attribute, and hearing the kernel's
/// uevents. The real implementation writes the file and listens on netlink; the simulator
/// interprets the write the way the mdev core would and raises the same events. Reads are plain
/// files in both cases, so the reader is the same code against either.
/// Write throws <see cref="KernelWriteException"/> carrying the errno.
/// </summary>
public interface IKernel
{
    void Write(string path, string value);

    /// <summary>
    /// Delivers uevents (on a thread of the kernel's) until disposed, or until it can no longer,
    /// which <paramref name="onStopped"/> hears with the reason; null with the reason when it
    /// cannot start (then only the interval notices changes). A kernel that raises none returns null.
    /// </summary>
    IDisposable? Listen(Action<Uevent> onEvent, Action<string> onStopped, out string? error)
    {
        error = "this kernel raises no events";
        return null;
    }
}

/// <summary>The running kernel: writes real sysfs attributes (they may block: a remove waits for the VFIO user to let go).</summary>
public sealed class LinuxKernel : IKernel
{
    public IDisposable? Listen(Action<Uevent> onEvent, Action<string> onStopped, out string? error)
    {
        var socket = Interop.UeventSocket.TryOpen(message =>
        {
            if (Uevent.Parse(message) is { } e) onEvent(e);
        }, out error);
        if (socket is not null) socket.Stopped += onStopped;
        return socket;
    }

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
