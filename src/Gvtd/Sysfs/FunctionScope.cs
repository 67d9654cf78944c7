using System.Globalization;

namespace Gvtd.Sysfs;

/// <summary>
/// The one rule of which SR-IOV PFs gvtd looks at (issue 24, "gvtd looks only at what it was asked
/// about"): those <see cref="Named"/> (declared, or whose VFs gvtd's ledger says it enabled), and,
/// when <see cref="DisplayControllers"/> (prune: all), display controllers, PCI class 0x03xxxx, the
/// only kind gvtd shares. A NIC, an NVMe drive or an accelerator nobody declared is read no further
/// than its class and its virtfnN links, and is never written to, whatever prune says: its VFs are
/// the host's (an E810's iavf VFs are the host's network). The reader asks it what to read, the
/// planner what it may touch.
/// </summary>
public sealed record FunctionScope(IReadOnlySet<string> Named, bool DisplayControllers)
{
    public static readonly FunctionScope NamedOnly = new(new HashSet<string>(StringComparer.Ordinal), false);

    public bool Watches(string address, int? pciClass) => Named.Contains(address) || (DisplayControllers && IsDisplayController(pciClass));

    /// <summary>PCI base class 0x03 (VGA, XGA, 3D, other display controller): the class file reads 0x03xxxx.</summary>
    public static bool IsDisplayController(int? pciClass) => pciClass is { } c && c >> 16 == 0x03;

    /// <summary>The class file's "0x020000" as a number; null when it is not one.</summary>
    public static int? ParseClass(string text) =>
        text.StartsWith("0x", StringComparison.Ordinal) && int.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var c) ? c : null;

    /// <summary>How a person reads a class: "a network controller (class 0x020000)".</summary>
    public static string Describe(int? pciClass) => pciClass is not { } c ? "a device whose PCI class could not be read"
        : $"{(c >> 16) switch { 0x01 => "a storage controller", 0x02 => "a network controller", 0x03 => "a display controller", 0x12 => "a processing accelerator", _ => "a device" }} (class 0x{c:x6})";
}

/// <summary>A PF with VFs that gvtd does not look at (<see cref="FunctionScope"/>): only what says why, never a thing to write.</summary>
public sealed record UnwatchedFunction(string Address, int? PciClass, int NumVfs);
