using Gvtctl.Doctor;

namespace Gvtd.Tests.Gvtctl.Doctor;

public sealed class IntelGpuGenerationsTests
{
    [Theory]
    [InlineData(0x1616, "Broadwell", GvtSupport.Supported)]
    [InlineData(0x1912, "Skylake", GvtSupport.Supported)]
    [InlineData(0x5912, "Kaby Lake", GvtSupport.Supported)]
    [InlineData(0x87C0, "Kaby Lake", GvtSupport.Supported)]
    [InlineData(0x3E92, "Coffee Lake", GvtSupport.Supported)]
    [InlineData(0x87CA, "Coffee Lake", GvtSupport.Supported)]
    [InlineData(0x9BC5, "Comet Lake", GvtSupport.Supported)]
    [InlineData(0x5A84, "Apollo Lake", GvtSupport.Unofficial)]
    [InlineData(0x0A84, "Apollo Lake", GvtSupport.Unofficial)]
    [InlineData(0x3185, "Gemini Lake", GvtSupport.NoMediation)]
    [InlineData(0x5A52, "Cannon Lake", GvtSupport.NoMediation)]
    [InlineData(0x8A52, "Ice Lake", GvtSupport.NoMediation)]
    [InlineData(0x0412, "Haswell", GvtSupport.TooOld)]
    [InlineData(0x0A16, "Haswell", GvtSupport.TooOld)]
    [InlineData(0x9A49, "Tiger Lake", GvtSupport.NeedsSriov)]
    [InlineData(0x4C8A, "Rocket Lake", GvtSupport.NeedsSriov)]
    [InlineData(0x4680, "Alder Lake", GvtSupport.NeedsSriov)]
    [InlineData(0x46A6, "Alder Lake", GvtSupport.NeedsSriov)]
    [InlineData(0xA780, "Raptor Lake", GvtSupport.NeedsSriov)]
    public void Known_ids_map_to_their_generation(int id, string name, GvtSupport support)
    {
        var generation = IntelGpuGenerations.Lookup(id);
        Assert.NotNull(generation);
        Assert.Equal(name, generation.Name);
        Assert.Equal(support, generation.Support);
    }

    [Theory]
    [InlineData(0x56A0)] // Arc A770 (discrete)
    [InlineData(0x4905)] // DG1
    [InlineData(0x87C1)] // next to Amber Lake, but not it
    [InlineData(0x0000)]
    [InlineData(-1)]
    [InlineData(0x10000)]
    public void Unknown_ids_are_not_guessed(int id) => Assert.Null(IntelGpuGenerations.Lookup(id));
}
