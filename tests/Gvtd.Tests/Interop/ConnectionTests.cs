using Gvtd.Interop;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Interop;

public class ConnectionTests
{
    [Fact]
    public void EncodePath_and_DecodePath_round_trip_a_uuid()
    {
        const string prefix = "/org/gvtd/vgpu";
        string uuid = "5f1c8a3e-9b2d-4e6f-8a1b-0c3d5e7f9a2b";
        string path = BusConnection.EncodePath(prefix, uuid);
        Assert.StartsWith(prefix + "/", path);
        Assert.DoesNotContain('-', path);
        Assert.Equal(uuid, BusConnection.DecodePath(path, prefix));
        Assert.Null(BusConnection.DecodePath("/elsewhere/x", prefix));
    }

    [Fact]
    public void OpenAddress_without_a_daemon_throws_BusUnavailable()
    {
        var e = Assert.Throws<BusUnavailableException>(() => BusConnection.OpenAddress("unix:path=/nonexistent/gvtd-test-bus"));
        Assert.Contains("/nonexistent/gvtd-test-bus", e.Message);
    }

    [Fact]
    public void RequestName_taken_throws_BusNameException()
    {
        using var daemon = DBusDaemon.Start();
        using var a = BusConnection.OpenAddress(daemon.Address);
        using var b = BusConnection.OpenAddress(daemon.Address);
        Assert.StartsWith(":", a.UniqueName);
        a.RequestName("org.gvtd.Taken");
        var e = Assert.Throws<BusNameException>(() => b.RequestName("org.gvtd.Taken"));
        Assert.Equal("org.gvtd.Taken", e.Name);
        Assert.Contains("already owned", e.Message);
    }

    [Fact]
    public void Post_runs_on_the_bus_thread_and_public_calls_work_from_other_threads()
    {
        using var bus = new TestBus(new TestService().Export);
        Assert.False(bus.Server.IsBusThread);
        using var done = new ManualResetEventSlim();
        bool onBus = false;
        bus.Server.Post(() => { onBus = bus.Server.IsBusThread && Thread.CurrentThread == bus.ServerThread; done.Set(); });
        Assert.True(done.Wait(TimeSpan.FromSeconds(5)));
        Assert.True(onBus);

        // Marshalled from this (non-bus) thread to the loop and waited for.
        bus.Server.EmitSignal(TestService.Path, TestService.Iface, "Ping", w => { w.Write("x"); w.Write(1u); });
        var ex = Assert.Throws<BusException>(() => bus.Server.EmitPropertiesChanged(TestService.Path, TestService.Iface, "NoSuchProperty"));
        Assert.StartsWith("System.Error.", ex.ErrorName);
    }

    [Fact]
    public void Dispose_stops_the_loop_and_leaves_no_thread()
    {
        using var daemon = DBusDaemon.Start();
        var conn = BusConnection.OpenAddress(daemon.Address);
        new TestService().Export(conn);
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { conn.Run(CancellationToken.None); }
            catch (Exception e) { error = e; }
        }) { IsBackground = true };
        thread.Start();
        using (var doc = Busctl.Json(daemon.Address, "call", TestBus.Service, TestService.Path, TestService.Iface, "Echo", "s", "up"))
            Assert.Equal("up", doc.RootElement.GetProperty("data")[0].GetString());

        conn.Dispose(); // from another thread: stops Run and waits for it
        Assert.True(thread.Join(TimeSpan.FromSeconds(5)), "Run did not return after Dispose");
        Assert.Null(error);
        Assert.Throws<ObjectDisposedException>(() => conn.Post(() => { }));
        conn.Dispose(); // idempotent

        // The name is gone with the connection.
        var r = Busctl.Run(daemon.Address, "call", TestBus.Service, TestService.Path, TestService.Iface, "Echo", "s", "down");
        Assert.NotEqual(0, r.ExitCode);
    }

    [Fact]
    public void Cancelling_stops_Run_and_the_loop_can_be_disposed_from_a_handler()
    {
        using var daemon = DBusDaemon.Start();
        var conn = BusConnection.OpenAddress(daemon.Address);
        using var cts = new CancellationTokenSource();
        var thread = new Thread(() => conn.Run(cts.Token)) { IsBackground = true };
        thread.Start();
        cts.Cancel();
        Assert.True(thread.Join(TimeSpan.FromSeconds(5)));

        // Dispose requested on the bus thread completes when Run unwinds.
        var thread2 = new Thread(() => conn.Run(CancellationToken.None)) { IsBackground = true };
        thread2.Start();
        conn.Post(conn.Dispose);
        Assert.True(thread2.Join(TimeSpan.FromSeconds(5)));
        Assert.Throws<ObjectDisposedException>(() => conn.Post(() => { }));
    }
}
