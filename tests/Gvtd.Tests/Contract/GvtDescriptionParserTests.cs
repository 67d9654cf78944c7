using Gvtd.Contract;

namespace Gvtd.Tests.Contract;

public sealed class GvtDescriptionParserTests
{
    [Fact]
    public void Parse_I915Format_ReadsEveryField()
    {
        // Exactly what kvmgt.c description_show prints for i915-GVTg_V5_4.
        var parsed = GvtDescriptionParser.Parse("low_gm_size: 128MB\nhigh_gm_size: 512MB\nfence: 4\nresolution: 1920x1200\nweight: 4\n");

        Assert.Equal(new GvtDescription(128, 512, 4, "1920x1200", 4), parsed);
    }

    [Fact]
    public void Parse_WithOutOfTreeAggregationLine_IgnoresTheExtraLine()
    {
        var parsed = GvtDescriptionParser.Parse("low_gm_size: 64MB\nhigh_gm_size: 384MB\nfence: 4\nresolution: 1024x768\nweight: 2\naggregation: no\n");

        Assert.Equal(new GvtDescription(64, 384, 4, "1024x768", 2), parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Single port serial")]
    [InlineData("NVIDIA GRID vGPU, 2 heads, 4096x2160, max 8 instances")]
    [InlineData("type: virtual serial\nports: 2\n")]
    public void Parse_NonGvtDescription_IsNull(string description)
    {
        Assert.Null(GvtDescriptionParser.Parse(description));
    }

    [Theory]
    [InlineData("low_gm_size: 128MB\n")] // truncated before high_gm_size
    [InlineData("low_gm_size: 128\nhigh_gm_size: 512MB\n")] // no unit
    [InlineData("low_gm_size: 128GB\nhigh_gm_size: 512MB\n")] // another unit
    [InlineData("low_gm_size: -128MB\nhigh_gm_size: 512MB\n")]
    [InlineData("low_gm_size: MB\nhigh_gm_size: 512MB\n")]
    public void Parse_MissingOrOddMemorySize_IsNull(string description)
    {
        Assert.Null(GvtDescriptionParser.Parse(description));
    }

    [Fact]
    public void Parse_OddFenceAndWeight_BecomeZeroButKeepTheSizes()
    {
        var parsed = GvtDescriptionParser.Parse("low_gm_size: 128MB\nhigh_gm_size: 512MB\nfence: many\nweight:\n");

        Assert.Equal(new GvtDescription(128, 512, 0, "", 0), parsed);
    }

    [Fact]
    public void Parse_CrLfLineEnds_StillParse()
    {
        var parsed = GvtDescriptionParser.Parse("low_gm_size: 128MB\r\nhigh_gm_size: 512MB\r\nfence: 4\r\nresolution: 1920x1200\r\nweight: 4\r\n");

        Assert.Equal(new GvtDescription(128, 512, 4, "1920x1200", 4), parsed);
    }
}
