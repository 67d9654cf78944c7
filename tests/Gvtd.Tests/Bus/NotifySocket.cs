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
    // Pulsed by the reader for every message, so a wait wakes when one arrives rather than polling.
    private readonly object _arrived = new();

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
                lock (_arrived) Monitor.PulseAll(_arrived);
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
    public bool WaitFor(string message, int times, int mark, TimeSpan timeout) =>
        WaitUntil(() => Messages.Skip(mark).Count(m => m.Message == message) >= times, timeout);

    public bool WaitFor(Func<string, bool> match, TimeSpan timeout) => WaitUntil(() => Messages.Any(m => match(m.Message)), timeout);

    /// <summary>Blocks until <paramref name="condition"/> holds (true) or <paramref name="timeout"/> has gone by (false).</summary>
    private bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_arrived)
        {
            while (!condition())
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) return false;
                Monitor.Wait(_arrived, left);
            }
            return true;
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
