using Tmds.DBus.Protocol;

namespace Gvtd.Tests.Bus;

/// <summary>
/// A stand-in polkit authority on the private bus (as bolt's tests mock polkitd): answers
/// CheckAuthorization with a fixed verdict and records what it was asked.
/// </summary>
public sealed class FakePolkit : IDisposable, IPathMethodHandler
{
    private readonly DBusConnection _bus;

    public bool Grant { get; set; }
    public List<(string SubjectKind, string BusName, string Action, uint Flags)> Asked { get; } = [];

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
        var name = subject.TryGetValue("name", out var n) ? n.GetString() : "";
        lock (Asked) Asked.Add((kind, name, action, flags));

        using var w = context.CreateReplyWriter("(bba{ss})");
        w.WriteStructureStart();
        w.WriteBool(Grant);
        w.WriteBool(false);
        w.WriteDictionaryEnd(w.WriteDictionaryStart());
        context.Reply(w.CreateMessage());
        return default;
    }

    public void Dispose() => _bus.Dispose();
}
