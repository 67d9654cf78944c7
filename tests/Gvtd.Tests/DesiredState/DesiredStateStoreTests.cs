using Gvtd.DesiredState;
using Gvtd.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.DesiredState;

/// <summary>The store parses once per change of the files' bytes, and never skips publishing one.</summary>
public sealed class DesiredStateStoreTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private DesiredStateStore Store() => new(Yaml.Loader(_dir), NullLogger<DesiredStateStore>.Instance);

    [Fact]
    public void ReloadIfChanged_DoesNothingWhileTheBytesAreTheSame_AndReloadsWhenTheyDiffer()
    {
        _dir.Write(MainFile, "vgpus:\n" + VGpu(U1, "i915-GVTg_V5_4", "00:02.0"));
        var store = Store();
        Assert.True(store.ReloadIfChanged()); // nothing read yet
        var first = store.View;

        Assert.False(store.ReloadIfChanged());
        Assert.Same(first, store.View);

        _dir.Write(MainFile, "vgpus:\n" + VGpu(U2, "i915-GVTg_V5_4", "00:02.0"));
        Assert.True(store.ReloadIfChanged());
        Assert.Equal([U2], store.Current!.VGpus.Select(v => v.Uuid));
    }

    [Fact]
    public void AnEditAChangeReadButRefused_IsStillPublishedByTheNextPass()
    {
        _dir.Write(MainFile, "vgpus:\n" + VGpu(U1, "i915-GVTg_V5_4", "00:02.0"));
        var store = Store();
        store.Reload();
        _dir.Write(MainFile, "vgpus:\n" + VGpu(U2, "i915-GVTg_V5_4", "00:02.0")); // edited, no event yet

        // A D-Bus change reads the files as they are now, and refuses.
        Assert.Throws<InvalidOperationException>(() => store.Change<bool>(now =>
        {
            Assert.Equal([U2], now.State!.VGpus.Select(v => v.Uuid));
            throw new InvalidOperationException("refused");
        }));
        Assert.Equal([U1], store.Current!.VGpus.Select(v => v.Uuid)); // a change publishes nothing

        Assert.True(store.ReloadIfChanged());
        Assert.Equal([U2], store.Current!.VGpus.Select(v => v.Uuid));
    }
}
