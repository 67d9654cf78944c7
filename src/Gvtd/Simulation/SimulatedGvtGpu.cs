namespace Gvtd.Simulation;

/// <summary>
/// The GPU the simulator offers: one GVT-g capable Intel GPU at 0000:00:02.0 with the four types of
/// the seed manual (docs/kernel/gvt-g.md). GVT-g carves every vGPU out of one pool of graphics
/// memory and fence registers, so creating any type lowers available_instances of all of them
/// (gvt/vgpu.c).
/// </summary>
internal static class SimulatedGvtGpu
{
    public const string PciAddress = "0000:00:02.0";
    public const string Driver = "i915";

    public sealed record VGpuType(string Id, long LowMiB, long HighMiB, int Fence, string Resolution, int Weight)
    {
        /// <summary>Exactly as i915's description_show prints it.</summary>
        public string Description =>
            $"low_gm_size: {LowMiB}MB\nhigh_gm_size: {HighMiB}MB\nfence: {Fence}\nresolution: {Resolution}\nweight: {Weight}\n";

        public string Name => Id["i915-".Length..];
    }

    public static readonly VGpuType[] Types =
    [
        new("i915-GVTg_V5_1", 512, 2048, 4, "1920x1200", 16),
        new("i915-GVTg_V5_2", 256, 1024, 4, "1920x1200", 8),
        new("i915-GVTg_V5_4", 128, 512, 4, "1920x1200", 4),
        new("i915-GVTg_V5_8", 64, 384, 4, "1024x768", 2),
    ];

    // What is left for guests on a typical 4 GiB-aperture part once the host has its share.
    public const long PoolLowMiB = 512, PoolHighMiB = 3072;
    public const int PoolFences = 32;

    public static int AvailableInstances(VGpuType type, IEnumerable<VGpuType> created)
    {
        long low = PoolLowMiB, high = PoolHighMiB;
        int fences = PoolFences;
        foreach (var used in created)
        {
            low -= used.LowMiB;
            high -= used.HighMiB;
            fences -= used.Fence;
        }
        return (int)Math.Max(0, Math.Min(Math.Min(low / type.LowMiB, high / type.HighMiB), fences / type.Fence));
    }
}
