using Gvtd.Interop;

namespace Gvtd.Tests.Bus;

/// <summary>
/// A stand-in polkit authority on the private bus (as bolt's tests mock polkitd): answers
/// CheckAuthorization with a fixed verdict and records what it was asked.
/// </summary>
public sealed class FakePolkit : IDisposable
{
    private readonly BusConnection _bus;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;

    public bool Grant { get; set; }
    public List<(string SubjectKind, string BusName, string Action, uint Flags)> Asked { get; } = [];

    public FakePolkit(string address)
    {
        _bus = BusConnection.OpenAddress(address);
        _bus.AddObject("/org/freedesktop/PolicyKit1/Authority", new BusInterface("org.freedesktop.PolicyKit1.Authority")
            .Method("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})",
                ["subject", "action_id", "details", "flags", "cancellation_id"], ["result"], Check));
        _bus.RequestName("org.freedesktop.PolicyKit1");
        _thread = new Thread(() => _bus.Run(_stop.Token)) { IsBackground = true };
        _thread.Start();
    }

    private void Check(MethodCall call)
    {
        var args = call.Args;
        args.EnterContainer('r', "sa{sv}");
        var kind = args.ReadString();
        args.EnterContainer('a', "{sv}");
        var name = "";
        while (args.EnterContainer('e', "sv"))
        {
            var key = args.ReadString();
            args.EnterContainer('v', "s");
            var value = args.ReadString();
            args.ExitContainer();
            args.ExitContainer();
            if (key == "name") name = value;
        }
        args.ExitContainer();
        args.ExitContainer();
        var action = args.ReadString();
        args.Skip("a{ss}");
        var flags = args.ReadUInt32();
        lock (Asked) Asked.Add((kind, name, action, flags));
        call.Reply(w =>
        {
            w.OpenStruct("bba{ss}");
            w.Write(Grant);
            w.Write(false);
            w.OpenArray("{ss}");
            w.Close();
            w.Close();
        });
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(5));
        _bus.Dispose();
    }
}
