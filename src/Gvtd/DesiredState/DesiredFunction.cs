namespace Gvtd.DesiredState;

/// <summary>
/// One SR-IOV physical function (PF) the user wants set up: how many virtual functions (VFs) it
/// should have, which driver each VF is bound to, the per-VF provisioning values its driver offers
/// (written to every VF), and for NVIDIA the vGPU type each VF carries. Address is normalised.
/// </summary>
public sealed record DesiredFunction(
    string Address, int Vfs, string Driver, IReadOnlyDictionary<string, string> Provision, string? VGpuType,
    string? Name, SourceLocation Source)
{
    /// <summary>The driver VFs are bound to unless the file says otherwise: what QEMU takes a VF from.</summary>
    public const string DefaultDriver = "vfio-pci";
}
