using Gvtd.Contract;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Gvtd.DesiredState;

/// <summary>What one YAML file declares, before it is merged with the others.</summary>
public sealed record DesiredStateFileContent(Settings? Settings, IReadOnlyList<DesiredVGpu> VGpus);

/// <summary>
/// Reads one desired-state file. Works on YamlDotNet's node tree rather than object binding, because
/// every node keeps its line and column (errors must say file:line:column) and it needs no reflection.
/// Collects every error in the file instead of stopping at the first, so one edit fixes them all.
/// </summary>
public static class DesiredStateFile
{
    private static readonly string[] TopLevelKeys = ["settings", "vgpus"];
    private static readonly string[] SettingsKeys = ["interval", "prune"];
    private static readonly string[] VGpuKeys = ["uuid", "type", "parent", "name"];

    public static DesiredStateFileContent Parse(string path, string text, bool allowSettings, List<ConfigError> errors)
    {
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
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this for some malformed input (an unclosed flow sequence):
            // still a syntax error in the user's file, located where the parser had got to.
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
        foreach (var (keyNode, value) in Entries(path, root, TopLevelKeys, errors))
        {
            if (keyNode.Value == "settings")
            {
                if (allowSettings) settings = ParseSettings(path, value, errors);
                else errors.Add(new(At(path, keyNode.Start), "'settings' is only allowed in the main file, not in a drop-in"));
            }
            else if (value is YamlSequenceNode list)
            {
                foreach (var item in list) ParseVGpu(path, item, vgpus, errors);
            }
            else if (!IsNull(value))
            {
                errors.Add(new(At(path, value.Start), "'vgpus' must be a list of vGPUs (each item starting with '- uuid:')"));
            }
        }
        return new(settings, vgpus);
    }

    private static Settings ParseSettings(string path, YamlNode node, List<ConfigError> errors)
    {
        var result = Settings.Default;
        if (IsNull(node)) return result;
        if (node is not YamlMappingNode map)
        {
            errors.Add(new(At(path, node.Start), "'settings' must be a mapping (interval, prune)"));
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
            else
            {
                PrunePolicy? prune = text switch { "none" => PrunePolicy.None, "owned" => PrunePolicy.Owned, "all" => PrunePolicy.All, _ => null };
                if (prune is { } p) result = result with { Prune = p };
                else errors.Add(new(At(path, value.Start), $"prune: '{text}' is not one of none, owned, all"));
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
                    if (uuid is null) errors.Add(new(where, $"uuid: '{text}' is not a UUID (expected 8-4-4-4-12 hex digits; uuidgen makes one)"));
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
    private static IEnumerable<(YamlScalarNode Key, YamlNode Value)> Entries(string path, YamlMappingNode map, string[] known, List<ConfigError> errors)
    {
        foreach (var (key, value) in map.Children)
        {
            if (key is YamlScalarNode { Value: { } k } scalar && known.Contains(k))
                yield return (scalar, value);
            else
                errors.Add(new(At(path, key.Start), $"unknown key '{(key as YamlScalarNode)?.Value ?? key.ToString()}' (expected one of: {string.Join(", ", known)})"));
        }
    }

    private static string? Scalar(string path, string key, YamlNode value, List<ConfigError> errors)
    {
        if (value is YamlScalarNode { Value: { Length: > 0 } text }) return text;
        errors.Add(new(At(path, value.Start), $"{key}: expected a single value"));
        return null;
    }

    private static bool IsNull(YamlNode node) => node is YamlScalarNode { Value: null or "" or "~" or "null" };

    // YamlDotNet marks are 1-based, as editors count.
    private static SourceLocation At(string path, Mark mark) => new(path, (int)mark.Line, (int)mark.Column);

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;
}
