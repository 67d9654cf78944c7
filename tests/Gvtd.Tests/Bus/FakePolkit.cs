using Tmds.DBus.Protocol;

namespace Gvtd.Tests.Bus;

/// <summary>
/// A stand-in polkit authority on the private bus (as bolt's tests mock polkitd): answers
/// CheckAuthorization with a fixed verdict and records what it was asked.
/// </summary>
public sealed class FakePolkit : IDisposable, IPathMethodHandler
{
    private readonly DBusConnection _bus;
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Grant { get; set; }

    /// <summary>A refusal says authentication could grant it (is_challenge), as for an administrator without the password typed.</summary>
    public bool Challenge { get; set; }

    /// <summary>Interactive checks are never answered, as when a prompt is up and nobody types.</summary>
    public bool NobodyAtThePrompt { get; set; }

    public List<(string SubjectKind, string BusName, string Action, uint Flags, string Cancellation)> Asked { get; } = [];

    /// <summary>The cancellation ids CancelCheckAuthorization was called with.</summary>
    public List<string> Cancelled { get; } = [];

    public FakePolkit(string address)
    {
        _bus = new DBusConnection(new DBusConnectionOptions(address) { AutoConnect = false });
        _bus.ConnectAsync().AsTask().GetAwaiter().GetResult();
        _bus.AddMethodHandler(this);
        _bus.RequestNameAsync("org.freedesktop.PolicyKit1", RequestNameOptions.None).GetAwaiter().GetResult();
    }

    public string Path => "/org/freedesktop/PolicyKit1/Authority";

    public bool HandlesChildPaths => false;

    public ValueTask HandleMethodAsync(MethodContext context)
    {
        if (context.Request.MemberAsString == "CancelCheckAuthorization" && context.Request.SignatureAsString == "s")
        {
            lock (Cancelled) Cancelled.Add(context.Request.GetBodyReader().ReadString());
            using var done = context.CreateReplyWriter(null);
            context.Reply(done.CreateMessage());
            return default;
        }
        if (context.Request.MemberAsString != "CheckAuthorization" || context.Request.SignatureAsString != "(sa{sv})sa{ss}us")
        {
            context.ReplyUnknownMethodError();
            return default;
        }
        var args = context.Request.GetBodyReader();
        args.AlignStruct();
        var kind = args.ReadString();
        var subject = args.ReadDictionaryOfStringToVariantValue();
        var action = args.ReadString();
        var details = args.ReadDictionaryStart();
        while (args.HasNext(details))
        {
            args.ReadString();
            args.ReadString();
        }
        var flags = args.ReadUInt32();
        var cancellation = args.ReadString();
        var name = subject.TryGetValue("name", out var n) ? n.GetString() : "";
        lock (Asked) Asked.Add((kind, name, action, flags, cancellation));
        if (NobodyAtThePrompt && (flags & 1) != 0) return new ValueTask(_disposed.Task); // no reply while it lives

        using var w = context.CreateReplyWriter("(bba{ss})");
        w.WriteStructureStart();
        w.WriteBool(Grant);
        w.WriteBool(!Grant && Challenge);
        w.WriteDictionaryEnd(w.WriteDictionaryStart());
        context.Reply(w.CreateMessage());
        return default;
    }

    public void Dispose()
    {
        _disposed.TrySetResult();
        _bus.Dispose();
    }
}
