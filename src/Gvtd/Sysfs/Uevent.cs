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

    /// <summary>
    /// Whether the event starts a pass, given what gvtd looks at: one that <see cref="MattersToGvtd"/>,
    /// and, for a PCI function's own event, only if it is one of <paramref name="interest"/>'s (a
    /// NIC's VF binding, an NVMe drive coming, is not gvtd's business). mdev and VFIO group events,
    /// and a parent registering on its PCI device (MDEV_STATE), count as before.
    /// </summary>
    public bool MattersTo(UeventInterest interest) =>
        MattersToGvtd && (Subsystem != "pci" || Properties.ContainsKey("MDEV_STATE") || interest.Covers(PciAddress, PciClass));

    /// <summary>A PCI device's address: the last part of its DEVPATH (every PCI event has one; not all carry PCI_SLOT_NAME).</summary>
    private string PciAddress => DevPath[(DevPath.LastIndexOf('/') + 1)..];

    /// <summary>The base class byte of PCI_CLASS (hex, e.g. 30000 for VGA), or null where the event has none (unbind, remove).</summary>
    private int? PciClass =>
        int.TryParse(Properties.GetValueOrDefault("PCI_CLASS"), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var c)
            ? c >> 16 : null;
}

/// <summary>
/// The PCI functions whose uevents can change a pass, as the reconciler publishes them after each
/// pass: the PFs gvtd looks at (declared, owned, and with prune: all those it read) with every VF
/// they have or can have, and with prune: all any display controller (PCI class 0x03), whose VFs
/// gvtd would prune. Until the first pass has looked, every PCI function counts.
/// </summary>
public sealed record UeventInterest(IReadOnlySet<string> Addresses, bool DisplayControllers, bool Everything = false)
{
    public static readonly UeventInterest AllPci = new(new HashSet<string>(), DisplayControllers: true, Everything: true);

    /// <summary>Display controllers: PCI base class 0x03 (VGA, XGA, 3D, other).</summary>
    private const int DisplayClass = 0x03;

    public bool Covers(string address, int? pciClass) =>
        Everything || Addresses.Contains(address) || (DisplayControllers && pciClass == DisplayClass);
}
