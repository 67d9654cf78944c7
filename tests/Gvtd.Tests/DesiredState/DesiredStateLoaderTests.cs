using Gvtd.DesiredState;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.DesiredState;

public sealed class DesiredStateLoaderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Load_UppercaseUuid_IsNormalisedToLowercase()
    {
        var state = Load(_dir, "vgpus:\n" + VGpu(U1.ToUpperInvariant(), "mtty-1", "mtty"));

        Assert.Equal(U1, Assert.Single(state.VGpus).Uuid);
    }

    [Theory]
    [InlineData("parent: \"00:02.0\"")]
    [InlineData("parent: 00:02.0")]
    [InlineData("parent: \"0000:00:02.0\"")]
    [InlineData("parent: \"0000:00:02.0\"  # the iGPU")]
    public void Load_PciParent_IsNormalisedToFullAddress(string parentLine)
    {
        var state = Load(_dir, $"vgpus:\n  - uuid: {U1}\n    type: i915-GVTg_V5_4\n    {parentLine}\n");

        Assert.Equal("0000:00:02.0", Assert.Single(state.VGpus).Parent);
    }

    [Fact]
    public void Load_UppercaseHexPciParent_IsLowercased()
    {
        var state = Load(_dir, "vgpus:\n" + VGpu(U1, "t", "0000:0A:1F.7"));

        Assert.Equal("0000:0a:1f.7", Assert.Single(state.VGpus).Parent);
    }

    [Fact]
    public void Load_NonPciParent_IsAcceptedAsIs()
    {
        var state = Load(_dir, "vgpus:\n" + VGpu(U1, "mtty-2", "mtty"));

        var vgpu = Assert.Single(state.VGpus);
        Assert.Equal(("mtty", "mtty-2"), (vgpu.Parent, vgpu.Type));
    }

    [Fact]
    public void Load_Settings_AreRead()
    {
        var state = Load(_dir, "settings:\n  interval: 5m\n  prune: all\nvgpus: []\n");

        Assert.Equal(TimeSpan.FromMinutes(5), state.Settings.Interval);
        Assert.Equal(PrunePolicy.All, state.Settings.Prune);
    }

    [Fact]
    public void Load_NameAndSource_AreKept()
    {
        var text = "vgpus:\n" + VGpu(U1, "mtty-1", "mtty") + "    name: win10-desktop\n";
        var state = Load(_dir, text);

        var vgpu = Assert.Single(state.VGpus);
        Assert.Equal("win10-desktop", vgpu.Name);
        var (line, column) = YamlText.Locate(text, "uuid:");
        Assert.Equal(new SourceLocation(_dir.Combine(MainFile), line, column), vgpu.Source);
    }

    [Fact]
    public void Load_DropIns_AreReadInNameOrderAfterTheMainFile()
    {
        var main = _dir.Write(MainFile, "vgpus:\n" + VGpu(U1, "mtty-1", "mtty"));
        var etcB = _dir.Write("etc/vgpus.d/20-b.yaml", "vgpus:\n" + VGpu(U3, "mtty-1", "mtty"));
        var etcA = _dir.Write("etc/vgpus.d/10-a.yaml", "vgpus:\n" + VGpu(U2, "mtty-1", "mtty"));
        const string u4 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1004";
        var run = _dir.Write("run/vgpus.d/05-c.yaml", "vgpus:\n" + VGpu(u4, "mtty-2", "mtty"));
        _dir.Write("etc/vgpus.d/ignored.txt", "not yaml at all: [");

        var state = Loader(_dir).Load();

        Assert.Equal([main, etcA, etcB, run], state.Files);
        Assert.Equal([U1, U2, U3, u4], state.VGpus.Select(v => v.Uuid));
        Assert.Equal(run, state.VGpus[3].Source.File);
    }

    [Fact]
    public void Load_MissingMainFile_IsAnError_NotAnEmptyState()
    {
        // Deleted by mistake, or not yet written: never "remove every vGPU".
        _dir.Write("run/vgpus.d/a.yaml", "vgpus:\n" + VGpu(U2, "mtty-1", "mtty"));

        var error = Assert.Single(Assert.Throws<InvalidConfigException>(() => Loader(_dir).Load()).Errors);

        Assert.Equal(_dir.Combine(MainFile), error.Where.File);
        Assert.Contains("does not exist", error.Message);
        Assert.Contains("vgpus: []", error.Message);
    }

    [Fact]
    public void Load_MainFileReplacedByADirectory_IsAnError()
    {
        Directory.CreateDirectory(_dir.Combine(MainFile));

        var error = Assert.Single(Assert.Throws<InvalidConfigException>(() => Loader(_dir).Load()).Errors);

        Assert.Contains("is a directory", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    [InlineData("\n\n")]
    [InlineData("~\n")]
    [InlineData("null\n")]
    [InlineData("settings:\n  prune: owned\n")]
    public void Load_EmptyOrCutShortFile_IsAnError_NotAnEmptyState(string text)
    {
        // What a crashed editor or a full disk leaves behind.
        var error = Assert.Single(Assert.Throws<InvalidConfigException>(() => Load(_dir, text)).Errors);

        Assert.Equal(new SourceLocation(_dir.Combine(MainFile), 1, 1), error.Where);
        Assert.Contains("vgpus: []", error.Message);
    }

    [Fact]
    public void Load_EmptyDropIn_IsAnError_NotAnEmptyState()
    {
        _dir.Write(MainFile, "vgpus: []\n");
        var dropIn = _dir.Write("etc/vgpus.d/dbus.yaml", "");

        var error = Assert.Single(Assert.Throws<InvalidConfigException>(() => Loader(_dir).Load()).Errors);

        Assert.Equal(dropIn, error.Where.File);
    }

    [Theory]
    [InlineData("vgpus: []\n")]
    [InlineData("vgpus:\n")]
    public void Load_AnExplicitEmptyList_DeclaresNothing(string text)
    {
        var state = Load(_dir, text);

        Assert.Empty(state.VGpus);
        Assert.Equal(Settings.Default, state.Settings);
        Assert.Equal([_dir.Combine(MainFile)], state.Files);
    }
}
