namespace Gvtd.Sysfs;

/// <summary>
/// A virtual function as sysfs shows it. Index is the PF's virtfnN number (0-based); the drivers'
/// provisioning directories count VFs from 1 (vf1 is virtfn0). Driver is "" when none is bound (its
/// driver_override is not read: that read can wait for a VM, docs/kernel/device-lock.md).
/// </summary>
public sealed record VirtualFunction(
    string Address, int Index, string SysfsPath, string Driver, int? IommuGroup, DeviceUse Use,
    NvidiaVf? Nvidia = null)
{
    /// <summary>Not known to be free (as for a mediated device): every count change waits for Free.</summary>
    public bool InUse => Use != DeviceUse.Free;

    public int Number => Index + 1;
}

/// <summary>NVIDIA's per-VF vGPU type files (nvidia/creatable_vgpu_types, nvidia/current_vgpu_type).</summary>
public sealed record NvidiaVf(string Current, IReadOnlyList<(string Id, string Name)> Creatable);

/// <summary>
/// An SR-IOV capable PCI device (a PF). Vfs come from the virtfnN links, not from sriov_numvfs:
/// reading that file blocks for as long as a disable waits for a VM to let go of a VF. PciClass is
/// its class file (0x030000 a display controller; null when unread), for <see cref="FunctionScope"/>.
/// </summary>
public sealed record PhysicalFunction(
    string Address, string SysfsPath, string Driver, int TotalVfs, bool AutoProbe, IReadOnlyList<VirtualFunction> Vfs,
    ObservedProvisioning? Provisioning, int? PciClass = null)
{
    public int NumVfs => Vfs.Count;

    /// <summary>Every address a VF of this PF can take (from sriov_offset and sriov_stride), so its uevents are known before it exists.</summary>
    public IReadOnlyList<string> PossibleVfs { get; init; } = [];

    /// <summary>Whether any VF is held by a process, or may be: a count change would tear it from under a VM.</summary>
    public bool AnyVfInUse => Vfs.Any(v => v.InUse);
}
