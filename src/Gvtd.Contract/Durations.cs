using System.Globalization;

namespace Gvtd.Contract;

/// <summary>Durations as people write them in the file: <c>90s</c>, <c>5m</c>, <c>1h</c>.</summary>
public static class Durations
{
    public static readonly TimeSpan Minimum = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Maximum = TimeSpan.FromDays(1);

    public static bool TryParse(string text, out TimeSpan value, out string? error)
    {
        value = default;
        text = text.Trim();
        if (text.Length > 0 && text.All(char.IsAsciiDigit))
        {
            error = $"{UserText.Quote(text)} has no unit (write {text}s, or use m or h)";
            return false;
        }
        if (text.Length < 2 || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            error = $"{UserText.Quote(text)} is not a duration (write a whole number with s, m or h, such as 60s, 5m or 1h)";
            return false;
        }
        TimeSpan? parsed = text[^1] switch
        {
            's' => TimeSpan.FromSeconds(Math.Min(n, 1_000_000_000)),
            'm' => TimeSpan.FromMinutes(Math.Min(n, 1_000_000)),
            'h' => TimeSpan.FromHours(Math.Min(n, 100_000)),
            _ => null,
        };
        if (parsed is null)
        {
            error = $"{UserText.Quote(text)} has an unknown unit (use s, m or h)";
            return false;
        }
        if (parsed < Minimum || parsed > Maximum)
        {
            error = $"{UserText.Quote(text)} is out of range (between 1s and 24h)";
            return false;
        }
        value = parsed.Value;
        error = null;
        return true;
    }

    public static string Format(TimeSpan value) =>
        value <= TimeSpan.Zero ? "0s"
        : value.TotalSeconds % 3600 == 0 ? $"{(long)value.TotalHours}h"
        : value.TotalSeconds % 60 == 0 ? $"{(long)value.TotalMinutes}m"
        : $"{(long)value.TotalSeconds}s";
}
