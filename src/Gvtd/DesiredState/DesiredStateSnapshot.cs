namespace Gvtd.DesiredState;

/// <summary>
/// The whole validated desired state: the main file plus its drop-ins, merged.
/// Only ever built from input that passed validation, so the rest of gvtd can trust it.
/// </summary>
public sealed record DesiredStateSnapshot(Settings Settings, IReadOnlyList<DesiredVGpu> VGpus, IReadOnlyList<string> Files)
{
    /// <summary>The SR-IOV physical functions declared, one per address.</summary>
    public IReadOnlyList<DesiredFunction> Functions { get; init; } = [];

    public static readonly DesiredStateSnapshot Empty = new(Settings.Default, [], []);
}
