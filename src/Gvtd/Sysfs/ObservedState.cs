using Gvtd.Contract;

namespace Gvtd.Sysfs;

/// <summary>
/// One consistent read of the host. Problems reading odd entries are kept, not thrown, and what
/// could not be read is never taken for absent: <see cref="Blind"/> says the device list itself
/// could not be read, <see cref="Unreadable"/> names devices listed but not readable.
/// </summary>
public sealed record ObservedState(
    IReadOnlyDictionary<string, MdevParent> Parents,
    IReadOnlyDictionary<string, MdevDevice> Devices,
    IReadOnlyList<string> Warnings)
{
    public static readonly ObservedState Empty = new(new Dictionary<string, MdevParent>(), new Dictionary<string, MdevDevice>(), []);

    /// <summary>Why the list of mediated devices could not be read; null when it was. A blind read shows no devices, and proves none absent.</summary>
    public string? Blind { get; init; }

    /// <summary>Devices the kernel lists whose entries could not be read: they exist, as what is unknown.</summary>
    public IReadOnlySet<string> Unreadable { get; init; } = new HashSet<string>();

    /// <summary>The SR-IOV physical functions gvtd looks after or that have VFs, and whether they could be read.</summary>
    public ObservedFunctions Sriov { get; init; } = ObservedFunctions.None;

    /// <summary>
    /// Whether a device may exist, for everything that would forget it (the ledger) rather than act on
    /// it: yes when it was seen, when it was listed but not readable, and for any UUID when gvtd is blind.
    /// </summary>
    public bool MayExist(string uuid) => Blind is not null || Devices.ContainsKey(uuid) || Unreadable.Contains(uuid);
}
