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

    private static string EncodeElement(string external)
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

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'a' + value - 10);
}
