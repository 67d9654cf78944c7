using Gvtd.Contract;

namespace Gvtd.Tests.Contract;

/// <summary>Paths must stay what sd_bus_path_encode made them: scripts and desktop tools hold on to them.</summary>
public sealed class ObjectPathsTests
{
    [Theory]
    // Both read off the sd-bus build of gvtd (README's busctl tree).
    [InlineData("4b20d080-1b54-4048-85b3-a6a62d165c01", "_34b20d080_2d1b54_2d4048_2d85b3_2da6a62d165c01")]
    [InlineData("0000:00:02.0", "_30000_3a00_3a02_2e0")]
    [InlineData("mtty", "mtty")]
    [InlineData("", "_")]
    [InlineData("é", "_c3_a9")]
    public void Encode_EscapesAsSdBusDoes(string external, string element) =>
        Assert.Equal("/org/gvtd/Gvtd1/vgpu/" + element, ObjectPaths.Encode("/org/gvtd/Gvtd1/vgpu", external));
}
