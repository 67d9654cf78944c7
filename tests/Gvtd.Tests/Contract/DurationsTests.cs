using Gvtd.Contract;

namespace Gvtd.Tests.Contract;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("1s", 1)]
    [InlineData("90s", 90)]
    [InlineData("5m", 300)]
    [InlineData("24h", 86400)]
    [InlineData(" 60s ", 60)]
    public void TryParse_ValidDuration_GivesSeconds(string text, int seconds)
    {
        Assert.True(Durations.TryParse(text, out var value, out var error));
        Assert.Null(error);
        Assert.Equal(TimeSpan.FromSeconds(seconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("s")]
    [InlineData("1.5m")]
    [InlineData("+5m")]
    [InlineData("5 m")]
    [InlineData("99999999999999999999s")]
    public void TryParse_Malformed_Fails(string text)
    {
        Assert.False(Durations.TryParse(text, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData(60, "1m")]
    [InlineData(90, "90s")]
    [InlineData(7200, "2h")]
    public void Format_WholeUnits_UsesTheLargestUnit(int seconds, string expected)
    {
        Assert.Equal(expected, Durations.Format(TimeSpan.FromSeconds(seconds)));
    }
}
