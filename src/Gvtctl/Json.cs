using System.Text;
using System.Text.Json;

namespace Gvtctl;

/// <summary>JSON output through Utf8JsonWriter (no reflection: gvtctl publishes with NativeAOT).</summary>
internal static class Json
{
    public static void Write(TextWriter output, Action<Utf8JsonWriter> body)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            body(w);
        output.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    public static void StringOrNull(this Utf8JsonWriter w, string name, string? value)
    {
        if (string.IsNullOrEmpty(value)) w.WriteNull(name);
        else w.WriteString(name, value);
    }
}
