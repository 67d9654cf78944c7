using System.Collections.Concurrent;
using Gvtd.Interop;

namespace Gvtd.Tests.Interop;

/// <summary>The small service the interop tests export: org.gvtd.Test at /org/gvtd/Test plus fallback items.</summary>
internal sealed class TestService
{
    public const string Path = "/org/gvtd/Test";
    public const string Iface = "org.gvtd.Test1";
    public const string ItemsPrefix = "/org/gvtd/Test/items";
    public const string ItemIface = "org.gvtd.Item1";

    public readonly ConcurrentDictionary<string, bool> Items = new();
    public readonly ConcurrentQueue<Exception> Unhandled = new();
    public volatile string Mood = "calm";
    public volatile int DeferredOnBusThread = -1;

    public BusInterface Interface(BusConnection conn) => new BusInterface(Iface)
        .Method("Echo", "s", "s", ["text"], ["echo"], c => { var s = c.Args.ReadString(); c.Reply(w => w.Write(s)); })
        .Method("Add", "uu", "u", ["a", "b"], ["sum"], c => { uint a = c.Args.ReadUInt32(), b = c.Args.ReadUInt32(); c.Reply(w => w.Write(a + b)); })
        .Method("Not", "b", "b", ["value"], ["negated"], c => { bool v = c.Args.ReadBool(); c.Reply(w => w.Write(!v)); })
        .Method("Double", "t", "t", ["value"], ["doubled"], c => { ulong v = c.Args.ReadUInt64(); c.Reply(w => w.Write(v * 2)); })
        .Method("Negate", "i", "i", ["value"], ["negated"], c => { int v = c.Args.ReadInt32(); c.Reply(w => w.Write(-v)); })
        .Method("SwapPairs", "a(ss)", "a(ss)", ["pairs"], ["swapped"], c =>
        {
            var pairs = c.Args.ReadArray("(ss)", r =>
            {
                r.EnterContainer('r', "ss");
                var p = (A: r.ReadString(), B: r.ReadString());
                r.ExitContainer();
                return p;
            });
            c.Reply(w => w.WriteArray("(ss)", pairs, (w2, p) => { w2.OpenStruct("ss"); w2.Write(p.B); w2.Write(p.A); w2.Close(); }));
        })
        .Method("ItemPath", "s", "o", ["id"], ["path"], c => { var id = c.Args.ReadString(); c.Reply(w => w.WriteObjectPath(BusConnection.EncodePath(ItemsPrefix, id))); })
        .Method("Deferred", "s", "s", ["text"], ["echo"], c =>
        {
            string s = c.Args.ReadString();
            Task.Run(async () =>
            {
                await Task.Delay(50);
                c.Reply(w => { DeferredOnBusThread = conn.IsBusThread ? 1 : 0; w.Write("later:" + s); });
            });
        })
        .Method("FailBus", "", "", [], [], _ => throw new BusException("org.gvtd.Error.NotAllowed", "You may not."))
        .Method("FailBug", "", "", [], [], _ => throw new InvalidOperationException("secret internal detail"))
        .Method("Whoami", "", "u", [], ["uid"], c => c.Reply(w => w.Write(c.SenderEuid())))
        .Method("SetMood", "s", "", ["mood"], [], c =>
        {
            Mood = c.Args.ReadString();
            c.Reply();
            conn.EmitPropertiesChanged(Path, Iface, "Mood");
        })
        .Method("Check", "(sa{sv})", "(bba{ss})", ["subject"], ["result"], c =>
        {
            var a = c.Args;
            a.EnterContainer('r', "sa{sv}");
            string kind = a.ReadString();
            var details = new Dictionary<string, string>();
            a.EnterContainer('a', "{sv}");
            while (a.EnterContainer('e', "sv"))
            {
                string key = a.ReadString();
                a.PeekType(out _, out var contents);
                a.EnterContainer('v', contents);
                details[key] = contents switch
                {
                    "u" => a.ReadUInt32().ToString(),
                    "t" => a.ReadUInt64().ToString(),
                    "s" => a.ReadString(),
                    _ => throw new BusException(BusErrors.InvalidArgs, $"unexpected variant {contents}"),
                };
                a.ExitContainer();
                a.ExitContainer();
            }
            a.ExitContainer();
            a.ExitContainer();
            c.Reply(w =>
            {
                w.OpenStruct("bba{ss}");
                w.Write(kind == "unix-process");
                w.Write(false);
                w.WriteStringDictionary(details.Select(kv => KeyValuePair.Create("detail." + kv.Key, kv.Value)).Append(KeyValuePair.Create("kind", kind)));
                w.Close();
            });
        })
        .Property("Version", "s", (_, w) => w.Write("1.2.3"), PropertyFlags.Const)
        .Property("Mood", "s", (_, w) => w.Write(Mood), PropertyFlags.EmitsChange)
        .Property("Broken", "s", (_, _) => throw new BusException("org.gvtd.Error.Broken", "Property is broken."), PropertyFlags.None)
        .Signal("Ping", "su", ["text", "count"]);

    public BusInterface ItemInterface() => new BusInterface(ItemIface)
        .Method("Describe", "", "s", [], ["id"], c => c.Reply(w => w.Write(BusConnection.DecodePath(c.Path, ItemsPrefix) ?? "?")))
        .Property("Id", "s", (path, w) => w.Write(BusConnection.DecodePath(path, ItemsPrefix) ?? "?"), PropertyFlags.Const);

    /// <summary>Export everything on <paramref name="conn"/> (before its loop runs).</summary>
    public void Export(BusConnection conn)
    {
        conn.RequestName(TestBus.Service);
        conn.AddObject(Path, Interface(conn));
        conn.AddObjectManager(ItemsPrefix);
        conn.AddFallback(ItemsPrefix, ItemInterface(),
            path => BusConnection.DecodePath(path, ItemsPrefix) is { } id && Items.ContainsKey(id),
            () => Items.Keys.Select(id => BusConnection.EncodePath(ItemsPrefix, id)).ToArray());
    }
}
