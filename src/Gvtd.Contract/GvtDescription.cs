using System.Globalization;

namespace Gvtd.Contract;

/// <summary>What GVT-g says of one of its types: graphics memory (MiB), fences, resolution, weight.</summary>
public sealed record GvtDescription(long LowGmMiB, long HighGmMiB, int Fence, string Resolution, int Weight);

/// <summary>
/// Parses GVT-g's "low_gm_size: 128MB\nhigh_gm_size: 512MB\nfence: 4\nresolution: 1920x1200\nweight: 4\n".
/// Other drivers' descriptions are free text: those, and anything incomplete, give null.
/// </summary>
public static class GvtDescriptionParser
{
    public static GvtDescription? Parse(string description)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in description.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon > 0) fields[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        if (!TryMiB(fields, "low_gm_size", out var low) || !TryMiB(fields, "high_gm_size", out var high))
            return null;
        return new GvtDescription(
            low, high,
            TryInt(fields, "fence") ?? 0,
            fields.GetValueOrDefault("resolution", ""),
            TryInt(fields, "weight") ?? 0);
    }

    private static bool TryMiB(Dictionary<string, string> fields, string key, out long mib)
    {
        mib = 0;
        return fields.TryGetValue(key, out var text)
            && text.EndsWith("MB", StringComparison.Ordinal)
            && long.TryParse(text.AsSpan(0, text.Length - 2), NumberStyles.None, CultureInfo.InvariantCulture, out mib);
    }

    private static int? TryInt(Dictionary<string, string> fields, string key) =>
        fields.TryGetValue(key, out var text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
}
