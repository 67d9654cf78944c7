using System.Text.RegularExpressions;

namespace Gvtd.Contract;

/// <summary>
/// The rules for the strings that end up in sysfs paths. Shared by the YAML reader and the D-Bus
/// layer so that a bad value is rejected the same way whichever door it came through.
/// </summary>
public static partial class Identifiers
{
    /// <summary>Lower-case canonical form of an RFC 4122 textual UUID, or null if malformed.</summary>
    public static string? NormaliseUuid(string text) =>
        Guid.TryParseExact(text.Trim(), "D", out var guid) ? guid.ToString("D") : null;

    /// <summary>
    /// A parent is a PCI address (short <c>00:02.0</c> means domain 0000) or a plain device name
    /// from /sys/class/mdev_bus such as <c>mtty</c> or a CCW subchannel <c>0.0.0313</c>.
    /// A value with a colon is meant as a PCI address and must be one.
    /// </summary>
    public static bool TryNormaliseParent(string text, out string parent, out string? error)
    {
        parent = text.Trim();
        if (parent.Contains(':'))
        {
            var match = PciAddress().Match(parent);
            if (!match.Success)
            {
                error = $"{UserText.Quote(text)} is not a PCI address (expected DDDD:BB:DD.F such as 0000:00:02.0, or BB:DD.F)";
                return false;
            }
            var domain = match.Groups["domain"].Success ? match.Groups["domain"].Value : "0000";
            parent = $"{domain}:{match.Groups["bus"].Value}:{match.Groups["dev"].Value}.{match.Groups["fn"].Value}".ToLowerInvariant();
            error = null;
            return true;
        }
        error = CheckPathComponent(parent, "parent");
        return error is null;
    }

    /// <summary>A type is a directory name under mdev_supported_types: never a path.</summary>
    public static string? CheckType(string type) => CheckPathComponent(type, "type");

    /// <summary>A label for people; it never reaches a path, but must fit on one line.</summary>
    public static string? CheckName(string name) =>
        name.Length > 128 ? "name is longer than 128 characters"
        : name.Any(char.IsControl) ? "name contains control characters (keep it on one line)"
        : null;

    public static string? CheckPathComponent(string value, string what)
    {
        if (value.Length == 0) return $"{what} is empty";
        if (value.Contains('/') || value.Contains("..") || value == ".")
            return $"{what} {UserText.Quote(value)} must be a single name, without '/' or '..'";
        if (value.Length > 255) return $"{what} is longer than 255 characters";
        if (value.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            return $"{what} {UserText.Quote(value)} contains white space or control characters";
        return null;
    }

    [GeneratedRegex(@"^((?<domain>[0-9a-fA-F]{4}):)?(?<bus>[0-9a-fA-F]{2}):(?<dev>[0-1][0-9a-fA-F])\.(?<fn>[0-7])$")]
    private static partial Regex PciAddress();
}
