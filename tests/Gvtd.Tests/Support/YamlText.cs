namespace Gvtd.Tests.Support;

/// <summary>
/// Finds where a piece of text sits in a YAML document, 1-based as editors count, so tests state
/// the expected error position from the input itself rather than from the parser's answer.
/// </summary>
public static class YamlText
{
    public static (int Line, int Column) Locate(string text, string needle, int occurrence = 1)
    {
        var index = -1;
        for (var i = 0; i < occurrence; i++)
        {
            index = text.IndexOf(needle, index + 1, StringComparison.Ordinal);
            if (index < 0) throw new ArgumentException($"'{needle}' (occurrence {occurrence}) is not in the text");
        }
        var line = text[..index].Count(c => c == '\n') + 1;
        var lineStart = index == 0 ? 0 : text.LastIndexOf('\n', index - 1) + 1;
        return (line, index - lineStart + 1);
    }
}
