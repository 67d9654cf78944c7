using Gvtd.Interop;

namespace Gvtd.Bus;

/// <summary>
/// The properties of one object kind, declared once: the same entries register the getters and
/// tell which properties changed between two snapshots, so PropertiesChanged can never disagree
/// with what Get returns (bolt-exported.c does this for GObject properties).
/// </summary>
internal sealed class PropertyTable<T>(params PropertyTable<T>.Entry[] entries) where T : class
{
    /// <summary>Value is what is compared; Write puts it on the wire (default: by signature s, b, u, t, as).</summary>
    public sealed record Entry(string Name, string Signature, Func<T, object> Value, Action<MessageWriter, T>? Write = null, bool Const = false);

    public BusInterface AddTo(BusInterface iface, Func<string, T?> lookup)
    {
        foreach (var entry in entries)
        {
            iface.Property(entry.Name, entry.Signature, (path, writer) =>
            {
                var item = lookup(path) ?? throw new BusException(BusErrors.UnknownObject, $"{path} no longer exists");
                if (entry.Write is { } write) write(writer, item);
                else WriteValue(writer, entry.Value(item));
            }, entry.Const ? PropertyFlags.Const : PropertyFlags.EmitsChange);
        }
        return iface;
    }

    public string[] Changed(T before, T after) =>
        entries.Where(e => !e.Const && !Equals(Key(e.Value(before)), Key(e.Value(after)))).Select(e => e.Name).ToArray();

    private static object Key(object value) => value is not string && value is IEnumerable<string> list ? string.Join('\n', list) : value;

    private static void WriteValue(MessageWriter writer, object value)
    {
        switch (value)
        {
            case string s: writer.Write(s); break;
            case bool b: writer.Write(b); break;
            case uint u: writer.Write(u); break;
            case ulong t: writer.Write(t); break;
            case IEnumerable<string> list:
                writer.OpenArray("s");
                foreach (var item in list) writer.Write(item);
                writer.Close();
                break;
            default: throw new InvalidOperationException($"no wire form for {value.GetType().Name}");
        }
    }
}
