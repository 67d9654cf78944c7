using System.Text;

namespace Gvtd.Sysfs;

/// <summary>
/// One kernel uevent: "ACTION@DEVPATH" then KEY=VALUE fields, each ending in a NUL byte, as the
/// kernel multicasts them (docs/kernel/uevents.md; docs/kernel/captures/ has real sequences).
/// </summary>
public sealed record Uevent(string Action, string DevPath, IReadOnlyDictionary<string, string> Properties)
{
    /// <summary>What stands for a lost event (the socket overran): relevant, since anything may have happened.</summary>
    public static readonly Uevent Lost = new("lost", "", new Dictionary<string, string>());

    public string Subsystem => Properties.GetValueOrDefault("SUBSYSTEM", "");

    public static Uevent? Parse(ReadOnlySpan<byte> message)
    {
        if (message.IsEmpty) return Lost;
        var fields = Encoding.UTF8.GetString(message).Split('\0', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length == 0 || fields[0].IndexOf('@') is not (> 0 and var at)) return null; // libudev's own format, or noise
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in fields.Skip(1))
            if (field.IndexOf('=') is > 0 and var eq) properties[field[..eq]] = field[(eq + 1)..];
        return new Uevent(fields[0][..at], fields[0][(at + 1)..], properties);
    }

    /// <summary>
    /// Whether the event can change what a pass would do: an mdev parent registering or going (a
    /// change on the parent itself, in its own subsystem, with MDEV_STATE), a mediated device added
    /// or removed, or a VFIO group node coming or going; for SR-IOV, a PCI function added or removed
    /// (VFs) or a driver bound or unbound (a late PF driver, a VF's driver changing).
    /// </summary>
    public bool MattersToGvtd =>
        ReferenceEquals(this, Lost)
        || Properties.ContainsKey("MDEV_STATE")
        || (Subsystem is "mdev" or "vfio" && Action is "add" or "remove")
        || (Subsystem == "pci" && Action is "add" or "remove" or "bind" or "unbind");
}
