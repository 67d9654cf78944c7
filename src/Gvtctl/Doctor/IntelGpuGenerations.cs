namespace Gvtctl.Doctor;

/// <summary>What a GPU generation offers for sharing it with VMs.</summary>
public enum GvtSupport
{
    /// <summary>i915's GVT-g supports it (Broadwell to Comet Lake).</summary>
    Supported,
    /// <summary>i915's GVT-g accepts it, but it is a Gen9 LP part on which GVT-g is little tested (Apollo Lake / Broxton).</summary>
    Unofficial,
    /// <summary>Older than Broadwell: no GVT-g, whole-GPU passthrough only.</summary>
    TooOld,
    /// <summary>Neither GVT-g nor graphics SR-IOV (Gemini Lake, Cannon Lake, Gen11): whole-GPU passthrough only.</summary>
    NoMediation,
    /// <summary>Gen12 and newer: GVT-g was never ported; Intel shares these GPUs through SR-IOV instead.</summary>
    NeedsSriov,
}

/// <summary>A name a person recognises and what it means for GVT-g.</summary>
public sealed record GpuGeneration(string Name, GvtSupport Support);

/// <summary>
/// Maps an Intel GPU's PCI device ID to its generation, to say whether GVT-g can work on it.
/// <para>
/// What this covers, honestly: integrated GPUs from Sandy Bridge to Meteor/Arrow Lake, by the high
/// byte of the device ID (Intel numbers each generation's IDs in one block, e.g. Kaby Lake 0x59xx),
/// with exact IDs first where a block is shared (Apollo Lake 0x5A84/0x5A85 inside Cannon Lake's 0x5Axx,
/// Amber Lake's 0x87C0/0x87CA). It was written from the kernel's i915_pciids.h as remembered, not
/// generated from it: an ID that falls in a known block but was never a real part will still be named
/// after the block. Discrete GPUs (DG1, Arc), Atom/Bay Trail, Lunar Lake and later are NOT in it: they
/// come back null, which the doctor reports as "unknown device id" (a Warning), never as a guess.
/// </para>
/// <para>
/// GVT-g support follows i915's is_supported_device() (intel_gvt.c): Broadwell, Skylake, Kaby Lake,
/// Broxton (Apollo Lake), Coffee Lake, Comet Lake (checked against intel_gvt.c of 5.x kernels). Gemini Lake,
/// the other Gen9 LP part, is not in it. Support came per generation (Coffee and Comet Lake were added after 4.16,
/// in later kernels); this table does not tie a generation to the kernel version that added it.
/// </para>
/// </summary>
public static class IntelGpuGenerations
{
    private static readonly GpuGeneration Broadwell = new("Broadwell", GvtSupport.Supported);
    private static readonly GpuGeneration KabyLake = new("Kaby Lake", GvtSupport.Supported);
    private static readonly GpuGeneration CoffeeLake = new("Coffee Lake", GvtSupport.Supported);

    /// <summary>Whole IDs, looked at before the blocks below.</summary>
    private static readonly Dictionary<int, GpuGeneration> Exact = new()
    {
        // Gen9 LP. Broxton is in i915's GVT-g list (intel_gvt.c), but it is the Atom-class variant that GVT-g guides do not list; said as a Warning.
        [0x0A84] = new("Apollo Lake", GvtSupport.Unofficial),
        [0x1A84] = new("Apollo Lake", GvtSupport.Unofficial),
        [0x1A85] = new("Apollo Lake", GvtSupport.Unofficial),
        [0x5A84] = new("Apollo Lake", GvtSupport.Unofficial),
        [0x5A85] = new("Apollo Lake", GvtSupport.Unofficial),
        [0x3184] = new("Gemini Lake", GvtSupport.NoMediation),
        [0x3185] = new("Gemini Lake", GvtSupport.NoMediation),
        // Amber Lake: i915 counts 0x87C0 as Kaby Lake and 0x87CA as Coffee Lake.
        [0x87C0] = KabyLake,
        [0x87CA] = CoffeeLake,
    };

    /// <summary>Blocks by the device ID's high byte.</summary>
    private static readonly Dictionary<int, GpuGeneration> Blocks = new()
    {
        [0x01] = new("Sandy Bridge/Ivy Bridge", GvtSupport.TooOld),
        [0x04] = new("Haswell", GvtSupport.TooOld),
        [0x0A] = new("Haswell", GvtSupport.TooOld),
        [0x0C] = new("Haswell", GvtSupport.TooOld),
        [0x0D] = new("Haswell", GvtSupport.TooOld),
        [0x16] = Broadwell,
        [0x19] = new("Skylake", GvtSupport.Supported),
        [0x59] = KabyLake,
        [0x3E] = CoffeeLake, // also Whiskey Lake, which i915 counts as Coffee Lake
        [0x9B] = new("Comet Lake", GvtSupport.Supported),
        [0x5A] = new("Cannon Lake", GvtSupport.NoMediation),
        [0x8A] = new("Ice Lake", GvtSupport.NoMediation),
        [0x45] = new("Elkhart Lake", GvtSupport.NoMediation),
        [0x4E] = new("Jasper Lake", GvtSupport.NoMediation),
        [0x9A] = new("Tiger Lake", GvtSupport.NeedsSriov),
        [0x4C] = new("Rocket Lake", GvtSupport.NeedsSriov),
        [0x46] = new("Alder Lake", GvtSupport.NeedsSriov),
        [0xA7] = new("Raptor Lake", GvtSupport.NeedsSriov),
        [0x7D] = new("Meteor Lake/Arrow Lake", GvtSupport.NeedsSriov),
    };

    /// <summary>The generation of Intel device <paramref name="deviceId"/>, or null when this table does not know it.</summary>
    public static GpuGeneration? Lookup(int deviceId)
    {
        if (deviceId is < 0 or > 0xFFFF) return null;
        if (Exact.TryGetValue(deviceId, out var exact)) return exact;
        return Blocks.GetValueOrDefault(deviceId >> 8);
    }
}
