using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace Gvtd.Tests.Bus;

/// <summary>
/// Plays systemd's side of sd_notify: a datagram socket gvtd finds in NOTIFY_SOCKET. Collects every
/// message (READY=1, STATUS=..., WATCHDOG=1, STOPPING=1) with the time it arrived.
/// </summary>
public sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string _dir = Directory.CreateTempSubdirectory("gvtd-notify-").FullName;
    private readonly Thread _reader;

    public string Path { get; }
    public ConcurrentQueue<(DateTime At, string Message)> Messages { get; } = new();

    public NotifySocket()
    {
        Path = System.IO.Path.Combine(_dir, "notify");
        _socket.Bind(new UnixDomainSocketEndPoint(Path));
        _reader = new Thread(Read) { IsBackground = true };
        _reader.Start();
    }

    private void Read()
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var n = _socket.Receive(buffer);
                foreach (var line in Encoding.UTF8.GetString(buffer, 0, n).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    Messages.Enqueue((DateTime.UtcNow, line));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // closed
        }
    }

    public int Count(string message) => Messages.Count(m => m.Message == message);

    /// <summary>A place in the messages received so far, to wait for what comes after it.</summary>
    public int Mark() => Messages.Count;

    /// <summary>Waits until <paramref name="message"/> came <paramref name="times"/> times after <paramref name="mark"/>.</summary>
    public bool WaitFor(string message, int times, int mark, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Messages.Skip(mark).Count(m => m.Message == message) < times)
        {
            if (DateTime.UtcNow >= deadline) return false;
            Thread.Sleep(20);
        }
        return true;
    }

    public bool WaitFor(Func<string, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Messages.Any(m => match(m.Message))) return true;
            Thread.Sleep(20);
        }
        return false;
    }

    public void Dispose()
    {
        _socket.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
