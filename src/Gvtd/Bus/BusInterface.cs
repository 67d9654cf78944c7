using System.Text;
using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>A method's handler: reads its arguments from the call, replies through it, may finish later.</summary>
internal delegate Task MethodHandler(BusCall call);

/// <summary>
/// One D-Bus interface as gvtd declares it: methods with their signatures and argument names, the
/// property table, and signals. The same declaration dispatches calls (with the signature checked
/// before a handler reads anything) and writes the introspection XML, which a test compares with
/// the shipped packaging/dbus/org.gvtd.Gvtd1.xml.
/// </summary>
internal sealed class BusInterface<T>(string name, PropertyTable<T> properties) where T : class
{
    public sealed record Method(string Name, string InSignature, string OutSignature, string[] InNames, string[] OutNames, MethodHandler Handler);
    public sealed record Signal(string Name, string Signature, string[] Names);

    private readonly Dictionary<string, Method> _methods = new(StringComparer.Ordinal);
    private readonly List<Signal> _signals = [];
    private ReadOnlyMemory<byte>? _xml;

    public string Name => name;

    public PropertyTable<T> Properties => properties;

    public BusInterface<T> WithMethod(string member, string inSignature, string outSignature, string[] inNames, string[] outNames, MethodHandler handler)
    {
        _methods.Add(member, new Method(member, inSignature, outSignature, inNames, outNames, handler));
        return this;
    }

    public BusInterface<T> WithSignal(string member, string signature, string[] names)
    {
        _signals.Add(new Signal(member, signature, names));
        return this;
    }

    public Method? FindMethod(string member) => _methods.GetValueOrDefault(member);

    /// <summary>The interface's &lt;interface&gt; element, built once.</summary>
    public ReadOnlyMemory<byte> Xml => _xml ??= Encoding.UTF8.GetBytes(BuildXml());

    private string BuildXml()
    {
        var xml = new StringBuilder($" <interface name=\"{name}\">\n");
        foreach (var method in _methods.Values)
        {
            xml.Append($"  <method name=\"{method.Name}\">\n");
            AppendArgs(xml, method.InSignature, method.InNames, "in");
            AppendArgs(xml, method.OutSignature, method.OutNames, "out");
            xml.Append("  </method>\n");
        }
        properties.AppendXml(xml);
        foreach (var signal in _signals)
        {
            xml.Append($"  <signal name=\"{signal.Name}\">\n");
            AppendArgs(xml, signal.Signature, signal.Names, null);
            xml.Append("  </signal>\n");
        }
        return xml.Append(" </interface>\n").ToString();
    }

    private static void AppendArgs(StringBuilder xml, string signature, string[] names, string? direction)
    {
        var types = Signatures.Split(signature);
        if (types.Count != names.Length) throw new InvalidOperationException($"signature '{signature}' has {types.Count} types for {names.Length} names");
        for (var i = 0; i < types.Count; i++)
            xml.Append($"   <arg type=\"{types[i]}\" name=\"{names[i]}\"{(direction is null ? "" : $" direction=\"{direction}\"")}/>\n");
    }
}

/// <summary>Splitting a signature into its complete types, for argument lists.</summary>
internal static class Signatures
{
    public static List<string> Split(string signature)
    {
        var types = new List<string>();
        var start = 0;
        while (start < signature.Length)
        {
            var end = EndOfType(signature, start);
            types.Add(signature[start..end]);
            start = end;
        }
        return types;
    }

    private static int EndOfType(string s, int i) => s[i] switch
    {
        'a' => EndOfType(s, i + 1),
        '(' => Closing(s, i, '(', ')'),
        '{' => Closing(s, i, '{', '}'),
        _ => i + 1,
    };

    private static int Closing(string s, int i, char open, char close)
    {
        var depth = 0;
        for (var j = i; j < s.Length; j++)
        {
            if (s[j] == open) depth++;
            else if (s[j] == close && --depth == 0) return j + 1;
        }
        throw new InvalidOperationException($"unbalanced signature '{s}'");
    }
}
