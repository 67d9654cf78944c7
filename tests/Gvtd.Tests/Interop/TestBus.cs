using Gvtd.Interop;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Interop;

/// <summary>
/// Private dbus-daemon + a server BusConnection exporting the test service, its loop on a dedicated thread, and
/// optional client connections (each with its own loop). Dispose stops the loops, checks they exited and kills the daemon.
/// </summary>
internal sealed class TestBus : IDisposable
{
    public const string Service = "org.gvtd.Test";
    private readonly List<(BusConnection Conn, Thread Thread, CancellationTokenSource Cts, Func<Exception?> Error)> _loops = [];

    public TestBus(Action<BusConnection>? setup = null)
    {
        Daemon = DBusDaemon.Start();
        try
        {
            Server = BusConnection.OpenAddress(Daemon.Address);
            setup?.Invoke(Server);
            StartLoop(Server, "server");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public DBusDaemon Daemon { get; }
    public BusConnection Server { get; } = null!;
    public string Address => Daemon.Address;
    public Thread ServerThread => _loops[0].Thread;

    /// <summary>A second connection with its own running loop.</summary>
    public BusConnection Connect()
    {
        var conn = BusConnection.OpenAddress(Daemon.Address);
        StartLoop(conn, "client");
        return conn;
    }

    private void StartLoop(BusConnection conn, string name)
    {
        var cts = new CancellationTokenSource();
        Exception? error = null;
        var t = new Thread(() =>
        {
            try { conn.Run(cts.Token); }
            catch (Exception e) { error = e; }
        }) { IsBackground = true, Name = $"bus-{name}" };
        t.Start();
        _loops.Add((conn, t, cts, () => error));
    }

    public void Dispose()
    {
        var errors = new List<string>();
        foreach (var (conn, thread, cts, error) in _loops)
        {
            cts.Cancel();
            if (!thread.Join(TimeSpan.FromSeconds(10)))
                errors.Add($"{thread.Name} did not stop");
            conn.Dispose();
            if (error() is { } e)
                errors.Add($"{thread.Name} loop failed: {e}");
            cts.Dispose();
        }
        Daemon?.Dispose();
        if (errors.Count > 0)
            throw new InvalidOperationException(string.Join("\n", errors));
    }
}
