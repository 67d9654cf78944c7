using System.IO.Pipes;
using Tmds.DBus.Protocol;

namespace Gvtd.Tests.Bus;

/// <summary>
/// A stand-in systemd-logind on the private bus: hands out inhibitor descriptors the way logind
/// does (the write end of a pipe; logind sees the inhibitor end when the read end hits EOF), answers
/// InhibitDelayMaxUSec, and emits PrepareForSleep when told to.
/// </summary>
public sealed class FakeLogind : IDisposable, IPathMethodHandler
{
    public sealed class Inhibitor(string what, string who, string why, string mode)
    {
        public string What { get; } = what;
        public string Who { get; } = who;
        public string Why { get; } = why;
        public string Mode { get; } = mode;

        /// <summary>Completes when every copy of the descriptor is closed, with what <c>OnRelease</c> captured then.</summary>
        public TaskCompletionSource<object?> Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool IsHeld => !Released.Task.IsCompleted;

        /// <summary>What <c>OnInhibit</c> captured as the inhibitor was asked for, before logind answered.</summary>
        public object? AtTaking { get; init; }
    }

    private readonly DBusConnection _bus;
    private readonly List<Inhibitor> _inhibitors = [];

    public TimeSpan DelayMax { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Called the moment an inhibitor is released; its result is kept in <see cref="Inhibitor.Released"/>.</summary>
    public Func<object?>? OnRelease { get; set; }

    /// <summary>Called as an inhibitor is asked for, before the answer; its result is kept in <see cref="Inhibitor.AtTaking"/>.</summary>
    public Func<object?>? OnInhibit { get; set; }

    public FakeLogind(string address)
    {
        _bus = new DBusConnection(new DBusConnectionOptions(address) { AutoConnect = false });
        _bus.ConnectAsync().AsTask().GetAwaiter().GetResult();
        _bus.AddMethodHandler(this);
        _bus.RequestNameAsync("org.freedesktop.login1", RequestNameOptions.None).GetAwaiter().GetResult();
    }

    public IReadOnlyList<Inhibitor> Inhibitors
    {
        get { lock (_inhibitors) return [.. _inhibitors]; }
    }

    /// <summary>
    /// The inhibitor gvtd holds, once it holds exactly one (it takes a new one before it lets an old
    /// one go). Woken by every inhibitor taken or released, so it returns the moment that is so.
    /// </summary>
    public Inhibitor WaitForHeld(TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        lock (_inhibitors)
        {
            while (_inhibitors.Count(i => i.IsHeld) != 1)
            {
                var left = deadline - DateTime.UtcNow;
                Assert.True(left > TimeSpan.Zero, $"hang guard: after {within.TotalSeconds} s gvtd holds {_inhibitors.Count(i => i.IsHeld)} inhibitors, want 1");
                Monitor.Wait(_inhibitors, left);
            }
            return _inhibitors.Single(i => i.IsHeld);
        }
    }

    public string Path => "/org/freedesktop/login1";

    public bool HandlesChildPaths => false;

    public ValueTask HandleMethodAsync(MethodContext context)
    {
        var request = context.Request;
        if (request.MemberAsString == "Inhibit" && request.SignatureAsString == "ssss")
        {
            var args = request.GetBodyReader();
            var inhibitor = new Inhibitor(args.ReadString(), args.ReadString(), args.ReadString(), args.ReadString()) { AtTaking = OnInhibit?.Invoke() };
            var pipe = new AnonymousPipeServerStream(PipeDirection.In);
            lock (_inhibitors)
            {
                _inhibitors.Add(inhibitor);
                Monitor.PulseAll(_inhibitors);
            }
            using (var w = context.CreateReplyWriter("h"))
            {
                w.WriteHandle(pipe.ClientSafePipeHandle);
                context.Reply(w.CreateMessage());
            }
            pipe.DisposeLocalCopyOfClientHandle();
            _ = WatchAsync(pipe, inhibitor);
        }
        else if (request.MemberAsString == "Get" && request.InterfaceAsString == "org.freedesktop.DBus.Properties")
        {
            using var w = context.CreateReplyWriter("v");
            w.WriteVariantUInt64((ulong)(DelayMax.Ticks / TimeSpan.TicksPerMicrosecond));
            context.Reply(w.CreateMessage());
        }
        else
        {
            context.ReplyUnknownMethodError();
        }
        return default;
    }

    private async Task WatchAsync(AnonymousPipeServerStream pipe, Inhibitor inhibitor)
    {
        var buffer = new byte[16];
        while (await pipe.ReadAsync(buffer) > 0) { }
        inhibitor.Released.TrySetResult(OnRelease?.Invoke());
        lock (_inhibitors) Monitor.PulseAll(_inhibitors);
        await pipe.DisposeAsync();
    }

    public void PrepareForSleep(bool start) => Emit(_bus, start);

    /// <summary>Sends a PrepareForSleep signal from <paramref name="connection"/> (another one than logind's, to spoof it).</summary>
    public static void Emit(DBusConnection connection, bool start)
    {
        using var w = connection.GetMessageWriter();
        w.WriteSignalHeader(null, "/org/freedesktop/login1", "org.freedesktop.login1.Manager", "PrepareForSleep", "b");
        w.WriteBool(start);
        connection.TrySendMessage(w.CreateMessage());
    }

    public void Dispose() => _bus.Dispose();
}
