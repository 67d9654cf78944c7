using Gvtd.DesiredState;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.DesiredState;

/// <summary>Every bad input is reported at its file:line:column with what is wrong.</summary>
public sealed class DesiredStateFileValidationTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Load_UnknownTopLevelKey_ReportsKeyPosition()
    {
        var text = "settings:\n  prune: owned\nvgpu:\n" + VGpu(U1, "mtty-1", "mtty");
        AssertSingleError(_dir, text, "vgpu:", "unknown key 'vgpu'");
    }

    [Fact]
    public void Load_UnknownSettingsKey_ReportsKeyPosition()
    {
        var text = "settings:\n  intervall: 60s\n";
        AssertSingleError(_dir, text, "intervall", "unknown key 'intervall'");
    }

    [Fact]
    public void Load_UnknownVGpuKey_ReportsKeyPosition()
    {
        var text = "vgpus:\n" + VGpu(U1, "mtty-1", "mtty") + "    colour: red\n";
        AssertSingleError(_dir, text, "colour", "unknown key 'colour'");
    }

    [Theory]
    [InlineData("uuid")]
    [InlineData("type")]
    [InlineData("parent")]
    public void Load_MissingRequiredKey_ReportsTheItem(string missing)
    {
        var lines = new[] { $"uuid: {U1}", "type: mtty-1", "parent: mtty" }.Where(l => !l.StartsWith(missing + ":")).ToArray();
        var text = "vgpus:\n  - " + string.Join("\n    ", lines) + "\n";
        // The item (mapping) starts at its first key.
        AssertSingleError(_dir, text, lines[0], $"missing '{missing}'");
    }

    [Fact]
    public void Load_MalformedUuid_ReportsValuePosition()
    {
        var text = "vgpus:\n" + VGpu("83b8f4f2-509f-382f-3c1e-e6bfe0fa10", "mtty-1", "mtty");
        var error = AssertSingleError(_dir, text, "83b8f4f2", "is not a UUID");
        Assert.Contains("'83b8f4f2-509f-382f-3c1e-e6bfe0fa10'", error.Message);
    }

    [Theory]
    [InlineData("00:02")]
    [InlineData("0000:00:02.9")]
    [InlineData("zz:00.0")]
    [InlineData("0000:00:20.0")]
    public void Load_MalformedPciAddress_ReportsValuePosition(string parent)
    {
        var text = "vgpus:\n" + VGpu(U1, "i915-GVTg_V5_4", parent);
        var error = AssertSingleError(_dir, text, $"\"{parent}\"", "is not a PCI address");
        Assert.Contains($"'{parent}'", error.Message);
    }

    [Fact]
    public void Load_DuplicateUuidInOneFile_NamesBothLocations()
    {
        var text = "vgpus:\n" + VGpu(U1, "mtty-1", "mtty") + VGpu(U1, "mtty-2", "mtty");
        var file = _dir.Combine(MainFile);
        var error = Assert.Single(Errors(_dir, text));
        AssertAt(error, file, text, "uuid:", occurrence: 2);
        var (line, column) = YamlText.Locate(text, "uuid:");
        Assert.Contains($"first at {file}:{line}:{column}", error.Message);
        Assert.Contains(U1, error.Message);
    }

    [Fact]
    public void Load_DuplicateUuidAcrossDropIn_NamesBothFiles()
    {
        var main = "vgpus:\n" + VGpu(U1, "mtty-1", "mtty");
        var dropInText = "vgpus:\n" + VGpu(U2, "mtty-1", "mtty") + VGpu(U1, "mtty-2", "mtty");
        var dropIn = _dir.Write("etc/vgpus.d/50-more.yaml", dropInText);

        var error = Assert.Single(Errors(_dir, main));

        AssertAt(error, dropIn, dropInText, $"uuid: {U1}");
        var (line, column) = YamlText.Locate(main, $"uuid: {U1}");
        Assert.Contains($"first at {_dir.Combine(MainFile)}:{line}:{column}", error.Message);
    }

    [Theory]
    [InlineData("60", "has no unit (write 60s")]
    [InlineData("5x", "unknown unit")]
    [InlineData("0s", "out of range")]
    [InlineData("-1m", "is not a duration")]
    [InlineData("25h", "out of range")]
    public void Load_BadInterval_ReportsValueAndWhy(string interval, string why)
    {
        var text = $"settings:\n  interval: {interval}\n";
        var error = AssertSingleError(_dir, text, interval, why);
        Assert.StartsWith("interval:", error.Message);
        Assert.Contains($"'{interval}'", error.Message);
    }

    [Fact]
    public void Load_UnknownPrunePolicy_ListsTheChoices()
    {
        var text = "settings:\n  interval: 60s\n  prune: sometimes\n";
        var error = AssertSingleError(_dir, text, "sometimes", "'sometimes' is not one of none, owned, all");
        Assert.StartsWith("prune:", error.Message);
    }

    [Theory]
    [InlineData("type", "../../../etc")]
    [InlineData("type", "mtty-1/create")]
    [InlineData("type", "..")]
    [InlineData("parent", "../mtty")]
    [InlineData("parent", "mtty/x")]
    public void Load_PathInTypeOrParent_IsRejected(string key, string value)
    {
        var type = key == "type" ? value : "mtty-1";
        var parent = key == "parent" ? value : "mtty";
        var text = $"vgpus:\n  - uuid: {U1}\n    type: \"{type}\"\n    parent: \"{parent}\"\n";
        var error = AssertSingleError(_dir, text, $"\"{value}\"", "without '/' or '..'");
        Assert.Contains($"'{value}'", error.Message);
    }

    [Fact]
    public void Load_SettingsInDropIn_IsRejectedAtTheDropIn()
    {
        _dir.Write(MainFile, "settings:\n  prune: none\nvgpus: []\n");
        var dropInText = "vgpus:\n" + VGpu(U1, "mtty-1", "mtty") + "settings:\n  prune: all\n";
        var dropIn = _dir.Write("run/vgpus.d/10-x.yaml", dropInText);

        var error = Assert.Single(Assert.Throws<InvalidConfigException>(() => Loader(_dir).Load()).Errors);

        AssertAt(error, dropIn, dropInText, "settings:");
        Assert.Contains("only allowed in the main file", error.Message);
    }

    [Fact]
    public void Load_YamlSyntaxError_ReportsWhereTheParserStopped()
    {
        // A key indented less than its siblings: the parser stops at it.
        var text = "settings:\n  interval: 60s\n prune: owned\n";
        AssertSingleError(_dir, text, "prune", "YAML syntax error");
    }

    [Fact]
    public void Load_UnclosedFlowSequence_IsAConfigErrorNotACrash()
    {
        // YamlDotNet's scanner throws InvalidOperationException (not YamlException) here.
        var text = "vgpus:\n  - uuid: [unclosed\n    type: mtty-1\n";
        var error = Assert.Single(Errors(_dir, text));
        Assert.Equal(_dir.Combine(MainFile), error.Where.File);
        Assert.Contains("YAML syntax error", error.Message);
        // The parser got as far as the unclosed sequence on line 2.
        Assert.Equal(YamlText.Locate(text, "[unclosed").Line, error.Where.Line);
    }

    [Fact]
    public void Load_VGpusNotAList_ReportsTheValue()
    {
        var text = $"vgpus:\n  uuid: {U1}\n  type: mtty-1\n";
        AssertSingleError(_dir, text, "uuid:", "'vgpus' must be a list");
    }

    [Fact]
    public void Load_ScalarRoot_ReportsLineOneColumnOne()
    {
        var text = "just some words\n";
        AssertSingleError(_dir, text, "just", "expected a mapping");
    }

    [Fact]
    public void Load_SeveralErrors_AreReportedTogether()
    {
        var text = "settings:\n  interval: 5x\n  prune: owned\nvgpus:\n"
                   + $"  - uuid: not-a-uuid\n    type: mtty-1\n    parent: mtty\n"
                   + $"  - uuid: {U2}\n    type: mtty-1\n    parent: \"00:02\"\n    colour: red\n";
        var file = _dir.Combine(MainFile);

        var errors = Errors(_dir, text);

        Assert.Equal(4, errors.Count);
        AssertAt(Assert.Single(errors, e => e.Message.StartsWith("interval:")), file, text, "5x");
        AssertAt(Assert.Single(errors, e => e.Message.Contains("not a UUID")), file, text, "not-a-uuid");
        AssertAt(Assert.Single(errors, e => e.Message.Contains("PCI address")), file, text, "\"00:02\"");
        AssertAt(Assert.Single(errors, e => e.Message.Contains("unknown key 'colour'")), file, text, "colour");
    }
}
