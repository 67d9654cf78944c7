using System.Security;
using System.Text;
using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>Writes one value of an object onto the wire, in the signature its entry declares.</summary>
internal delegate void ValueWriter<in T>(ref MessageWriter writer, T item);

/// <summary>
/// The properties of one object kind, declared once: the same entries answer Get and GetAll,
/// describe the properties in introspection, and tell which properties changed between two
/// snapshots, so PropertiesChanged can never disagree with what Get returns (bolt-exported.c does
/// this for GObject properties).
/// </summary>
internal sealed class PropertyTable<T>(params PropertyTable<T>.Entry[] entries) where T : class
{
    /// <summary>Compare is what tells a change; Write puts the value on the wire.</summary>
    public sealed record Entry(string Name, string Signature, Func<T, object> Compare, ValueWriter<T> Write, bool Const = false);

    public static Entry String(string name, Func<T, string> value, bool isConst = false) =>
        new(name, "s", value, (ref MessageWriter w, T item) => w.WriteString(value(item)), isConst);

    public static Entry Bool(string name, Func<T, bool> value) =>
        new(name, "b", t => value(t), (ref MessageWriter w, T item) => w.WriteBool(value(item)));

    public static Entry UInt32(string name, Func<T, uint> value) =>
        new(name, "u", t => value(t), (ref MessageWriter w, T item) => w.WriteUInt32(value(item)));

    public static Entry UInt64(string name, Func<T, ulong> value) =>
        new(name, "t", t => value(t), (ref MessageWriter w, T item) => w.WriteUInt64(value(item)));

    public static Entry Strings(string name, Func<T, IReadOnlyList<string>> value) =>
        new(name, "as", t => string.Join('\n', value(t)), (ref MessageWriter w, T item) => w.WriteArray(value(item)));

    public Entry? Find(string name) => entries.FirstOrDefault(e => e.Name == name);

    /// <summary>One property as a variant, as Get replies and PropertiesChanged carries it.</summary>
    public static void WriteVariant(ref MessageWriter writer, Entry entry, T item)
    {
        writer.WriteSignature(entry.Signature);
        entry.Write(ref writer, item);
    }

    /// <summary>a{sv} of the named properties, or of all when <paramref name="names"/> is null.</summary>
    public void WriteDictionary(ref MessageWriter writer, T item, IReadOnlyCollection<string>? names = null)
    {
        var dict = writer.WriteDictionaryStart();
        foreach (var entry in entries)
        {
            if (names is not null && !names.Contains(entry.Name)) continue;
            writer.WriteDictionaryEntryStart();
            writer.WriteString(entry.Name);
            WriteVariant(ref writer, entry, item);
        }
        writer.WriteDictionaryEnd(dict);
    }

    public string[] Changed(T before, T after) =>
        entries.Where(e => !e.Const && !Equals(e.Compare(before), e.Compare(after))).Select(e => e.Name).ToArray();

    public void AppendXml(StringBuilder xml)
    {
        foreach (var entry in entries)
        {
            xml.Append($"  <property name=\"{entry.Name}\" type=\"{SecurityElement.Escape(entry.Signature)}\" access=\"read\">\n");
            if (entry.Const) xml.Append("   <annotation name=\"org.freedesktop.DBus.Property.EmitsChangedSignal\" value=\"const\"/>\n");
            xml.Append("  </property>\n");
        }
    }
}
