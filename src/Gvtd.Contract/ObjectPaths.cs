using System.Text;

namespace Gvtd.Contract;

/// <summary>
/// One object path element per vGPU or parent, escaped exactly as sd_bus_path_encode(3) does, so
/// that paths stay what they were when gvtd spoke through sd-bus: ASCII letters are kept, digits
/// are kept except in first place, every other byte of the UTF-8 text becomes <c>_xx</c> in
/// lower-case hex, and the empty string becomes <c>_</c>.
/// </summary>
public static class ObjectPaths
{
    /// <summary>"/org/x" + "5f1c-…" → "/org/x/5f1c_2d…".</summary>
    public static string Encode(string prefix, string external) => prefix + "/" + EncodeElement(external);

    /// <summary>The path element alone, as introspection lists a child node.</summary>
    public static string EncodeElement(string external)
    {
        if (external.Length == 0) return "_";
        var bytes = Encoding.UTF8.GetBytes(external);
        var text = new StringBuilder(bytes.Length * 3);
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            if (char.IsAsciiLetter((char)b) || (i > 0 && char.IsAsciiDigit((char)b))) text.Append((char)b);
            else text.Append('_').Append(HexDigit(b >> 4)).Append(HexDigit(b & 0xf));
        }
        return text.ToString();
    }

    /// <summary>The external id of a path directly under <paramref name="prefix"/>, or null (sd_bus_path_decode).</summary>
    public static string? Decode(string path, string prefix)
    {
        if (!path.StartsWith(prefix + "/", StringComparison.Ordinal)) return null;
        var element = path[(prefix.Length + 1)..];
        if (element.Length == 0 || element.Contains('/')) return null;
        if (element == "_") return "";
        var bytes = new List<byte>(element.Length);
        for (var i = 0; i < element.Length; i++)
        {
            if (element[i] != '_')
            {
                bytes.Add((byte)element[i]);
                continue;
            }
            if (i + 2 >= element.Length || HexValue(element[i + 1]) is not { } high || HexValue(element[i + 2]) is not { } low)
                return null;
            bytes.Add((byte)(high << 4 | low));
            i += 2;
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'a' + value - 10);

    private static int? HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => null,
    };
}
