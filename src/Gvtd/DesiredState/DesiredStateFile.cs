using System.Text;
using Gvtd.Contract;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Gvtd.DesiredState;

/// <summary>
/// What one YAML file declares, before it is merged with the others. SaysVGpus is whether it has a
/// 'vgpus' or 'sriov' key at all: only a file that says so (even 'vgpus: []') can declare "none".
/// </summary>
public sealed record DesiredStateFileContent(Settings? Settings, IReadOnlyList<DesiredVGpu> VGpus, bool SaysVGpus = false)
{
    public IReadOnlyList<DesiredFunction> Functions { get; init; } = [];
}

/// <summary>
/// Reads one desired-state file. Works on YamlDotNet's node tree rather than object binding, because
/// every node keeps its line and column (errors must say file:line:column) and it needs no reflection.
/// Collects every error in the file instead of stopping at the first, so one edit fixes them all.
/// </summary>
public static class DesiredStateFile
{
    private static readonly string[] TopLevelKeys = ["settings", "vgpus", "sriov"];
    private static readonly string[] SettingsKeys = ["interval", "prune", "sleep"];
    private static readonly string[] VGpuKeys = ["uuid", "type", "parent", "name"];

    /// <summary>
    /// Far above any real file (1,000 vGPUs take about 100 KB), and small enough that reading and
    /// parsing the largest allowed file takes milliseconds and a few MB.
    /// </summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>
    /// YAML aliases can make a short file name millions of list items; past this many a file is
    /// refused rather than walked (gvtd is tested with 1,000 declared vGPUs).
    /// </summary>
    public const int MaxVGpus = 10_000;

    /// <summary>Errors reported per file; past that one line says there are more.</summary>
    public const int MaxErrors = 50;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// The text of one file, or null with the reason in <paramref name="errors"/>: unreadable, over
    /// <see cref="MaxBytes"/> (never read whole), or not UTF-8 (a Latin-1 file would otherwise
    /// turn into U+FFFD in names), located at the first bad byte.
    /// </summary>
    public static string? Read(string path, List<ConfigError> errors)
    {
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
            var buffer = new byte[MaxBytes + 1];
            var length = 0;
            int n;
            while (length < buffer.Length && (n = stream.Read(buffer, length, buffer.Length - length)) > 0) length += n;
            if (length > MaxBytes)
            {
                errors.Add(new(new SourceLocation(path, 1, 1), $"the file is larger than {MaxBytes / 1024} KiB; a desired-state file is far smaller (is this the right file?)"));
                return null;
            }
            bytes = buffer[..length];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add(new(new SourceLocation(path, 1, 1), "cannot read the file: " + e.Message));
            return null;
        }
        var start = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
        try
        {
            return StrictUtf8.GetString(bytes, start, bytes.Length - start);
        }
        catch (DecoderFallbackException e)
        {
            var at = start + Math.Max(0, e.Index);
            var lineStart = Array.LastIndexOf(bytes, (byte)'\n', Math.Max(0, at - 1)) + 1;
            var line = bytes.AsSpan(0, lineStart).Count((byte)'\n') + 1;
            errors.Add(new(new SourceLocation(path, line, StrictUtf8.GetCharCount(bytes, lineStart, Math.Max(0, at - lineStart)) + 1),
                "the file is not UTF-8 (saved as Latin-1 or another legacy encoding?); save it as UTF-8"));
            return null;
        }
    }

    public static DesiredStateFileContent Parse(string path, string text, bool allowSettings, List<ConfigError> errors)
    {
        if (FirstComplexKey(text) is { } complex)
        {
            // Refused before YamlDotNet builds its tree: that hashes every key, and an aliased list
            // as a key stands for billions of nodes.
            errors.Add(new(At(path, complex), "a key must be a plain word, not a list, a mapping or an alias"));
            return new(null, []);
        }
        var stream = new YamlStream();
        var parser = new Parser(new StringReader(text));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException e)
        {
            errors.Add(new(At(path, e.Start), "YAML syntax error: " + Innermost(e).Message));
            return new(null, []);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet throws these for some malformed input (an unclosed flow sequence; a key
            // where its tree expects a node, found by fuzzing): still a syntax error in the user's
            // file, located where the parser had got to.
            var where = parser.Current is { } last ? At(path, last.Start) : new SourceLocation(path, 1, 1);
            errors.Add(new(where, "YAML syntax error: the parser could not continue from here (an unclosed '[' or '{'?)"));
            return new(null, []);
        }

        // An empty file, or one that is only "~" or "null", declares nothing.
        if (stream.Documents.Count == 0 || IsNull(stream.Documents[0].RootNode))
            return new(null, []);
        if (stream.Documents.Count > 1)
            errors.Add(new(At(path, stream.Documents[1].RootNode.Start), "only one YAML document per file is allowed"));

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            errors.Add(new(At(path, stream.Documents[0].RootNode.Start), "expected a mapping with the keys 'settings' and 'vgpus'"));
            return new(null, []);
        }

        Settings? settings = null;
        var vgpus = new List<DesiredVGpu>();
        var functions = new List<DesiredFunction>();
        var saysVGpus = false;
        foreach (var (keyNode, value) in Entries(path, root, TopLevelKeys, errors))
        {
            saysVGpus |= keyNode.Value is "vgpus" or "sriov";
            if (keyNode.Value == "settings")
            {
                if (allowSettings) settings = ParseSettings(path, value, errors);
                else errors.Add(new(At(path, keyNode.Start), "'settings' is only allowed in the main file, not in a drop-in"));
            }
            else if (keyNode.Value == "sriov")
            {
                DesiredFunctionFile.ParseList(path, value, functions, errors);
            }
            else if (value is YamlSequenceNode list)
            {
                if (list.Children.Count > MaxVGpus)
                {
                    errors.Add(new(At(path, value.Start), $"'vgpus' lists more than {MaxVGpus} items"));
                    continue;
                }
                foreach (var item in list)
                {
                    if (errors.Count >= MaxErrors) break;
                    ParseVGpu(path, item, vgpus, errors);
                }
            }
            else if (!IsNull(value))
            {
                errors.Add(new(At(path, value.Start), "'vgpus' must be a list of vGPUs (each item starting with '- uuid:')"));
            }
        }
        return new(settings, vgpus, saysVGpus) { Functions = functions };
    }

    private static Settings ParseSettings(string path, YamlNode node, List<ConfigError> errors)
    {
        var result = Settings.Default;
        if (IsNull(node)) return result;
        if (node is not YamlMappingNode map)
        {
            errors.Add(new(At(path, node.Start), "'settings' must be a mapping (interval, prune, sleep)"));
            return result;
        }
        foreach (var (key, value) in Entries(path, map, SettingsKeys, errors))
        {
            var text = Scalar(path, key.Value!, value, errors);
            if (text is null) continue;
            if (key.Value == "interval")
            {
                if (Durations.TryParse(text, out var interval, out var error)) result = result with { Interval = interval };
                else errors.Add(new(At(path, value.Start), "interval: " + error));
            }
            else if (key.Value == "sleep")
            {
                SleepPolicy? sleep = text switch { "remove-idle" => SleepPolicy.RemoveIdle, "keep" => SleepPolicy.Keep, _ => null };
                if (sleep is { } s) result = result with { Sleep = s };
                else errors.Add(new(At(path, value.Start), $"sleep: {UserText.Quote(text)} is not one of remove-idle, keep"));
            }
            else
            {
                PrunePolicy? prune = text switch { "none" => PrunePolicy.None, "owned" => PrunePolicy.Owned, "all" => PrunePolicy.All, _ => null };
                if (prune is { } p) result = result with { Prune = p };
                else errors.Add(new(At(path, value.Start), $"prune: {UserText.Quote(text)} is not one of none, owned, all"));
            }
        }
        return result;
    }

    private static void ParseVGpu(string path, YamlNode node, List<DesiredVGpu> into, List<ConfigError> errors)
    {
        if (node is not YamlMappingNode map)
        {
            errors.Add(new(At(path, node.Start), "each vGPU must be a mapping with uuid, type and parent"));
            return;
        }
        var before = errors.Count;
        string? uuid = null, type = null, parent = null, name = null;
        foreach (var (key, value) in Entries(path, map, VGpuKeys, errors))
        {
            var text = Scalar(path, key.Value!, value, errors);
            if (text is null) continue;
            var where = At(path, value.Start);
            switch (key.Value)
            {
                case "uuid":
                    uuid = Identifiers.NormaliseUuid(text);
                    if (uuid is null) errors.Add(new(where, $"uuid: {UserText.Quote(text)} is not a UUID (expected 8-4-4-4-12 hex digits; uuidgen makes one)"));
                    break;
                case "type":
                    type = text.Trim();
                    if (Identifiers.CheckType(type) is { } typeError) errors.Add(new(where, typeError));
                    break;
                case "parent":
                    if (!Identifiers.TryNormaliseParent(text, out var p, out var parentError)) errors.Add(new(where, "parent: " + parentError));
                    parent = p;
                    break;
                case "name":
                    name = text;
                    if (Identifiers.CheckName(text) is { } nameError) errors.Add(new(where, nameError));
                    break;
            }
        }
        foreach (var required in new[] { ("uuid", uuid), ("type", type), ("parent", parent) })
        {
            if (required.Item2 is null && !map.Children.Keys.OfType<YamlScalarNode>().Any(k => k.Value == required.Item1))
                errors.Add(new(At(path, map.Start), $"vGPU is missing '{required.Item1}'"));
        }
        if (errors.Count == before)
            into.Add(new DesiredVGpu(uuid!, type!, parent!, name, At(path, map.Start)));
    }

    /// <summary>Mapping entries with scalar keys, reporting unknown keys with the list of known ones.</summary>
    internal static IEnumerable<(YamlScalarNode Key, YamlNode Value)> Entries(string path, YamlMappingNode map, string[] known, List<ConfigError> errors)
    {
        foreach (var (key, value) in map.Children)
        {
            if (key is YamlScalarNode { Value: { } k } scalar && known.Contains(k))
                yield return (scalar, value);
            else
                errors.Add(new(At(path, key.Start), $"unknown key {Describe(key)} (expected one of: {string.Join(", ", known)})"));
        }
    }

    internal static string? Scalar(string path, string key, YamlNode value, List<ConfigError> errors)
    {
        if (value is YamlScalarNode { Value: { Length: > 0 } text }) return text;
        errors.Add(new(At(path, value.Start), $"{key}: expected a single value"));
        return null;
    }

    /// <summary>
    /// Where the first mapping key that is not a plain scalar starts, from the parser's event stream
    /// (linear in the file's size); null when there is none, or when the file does not parse (the
    /// tree's own load then reports the syntax error).
    /// </summary>
    private static Mark? FirstComplexKey(string text)
    {
        const int Sequence = 0, ExpectKey = 1, ExpectValue = 2;
        var open = new Stack<int>();
        var parser = new Parser(new StringReader(text));
        try
        {
            while (parser.MoveNext())
            {
                var e = parser.Current!;
                if (e is SequenceEnd or MappingEnd)
                {
                    open.Pop();
                    continue;
                }
                if (e is not (YamlDotNet.Core.Events.Scalar or AnchorAlias or SequenceStart or MappingStart)) continue;
                if (open.Count > 0 && open.Peek() != Sequence)
                {
                    if (open.Peek() == ExpectKey && e is not YamlDotNet.Core.Events.Scalar) return e.Start;
                    open.Push(open.Pop() == ExpectKey ? ExpectValue : ExpectKey);
                }
                if (e is SequenceStart) open.Push(Sequence);
                else if (e is MappingStart) open.Push(ExpectKey);
            }
        }
        catch (Exception ex) when (ex is YamlException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
        return null;
    }

    /// <summary>
    /// A node in words, in bounded time and length. Never the node's ToString(): through YAML
    /// aliases a few lines can stand for billions of nodes.
    /// </summary>
    private static string Describe(YamlNode node) => node switch
    {
        YamlScalarNode { Value: { } text } => UserText.Quote(text),
        YamlMappingNode => "(a mapping)",
        YamlSequenceNode => "(a list)",
        _ => "(an empty key)",
    };

    internal static bool IsNull(YamlNode node) => node is YamlScalarNode { Value: null or "" or "~" or "null" };

    // YamlDotNet marks are 1-based, as editors count.
    internal static SourceLocation At(string path, Mark mark) => new(path, (int)mark.Line, (int)mark.Column);

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;
}
