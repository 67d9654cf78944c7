using Gvtd.Files;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Files;

public sealed class AtomicFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Write_ReplacesTheFileWhole_AndLeavesNothingBeside()
    {
        var path = _dir.Combine("state", "owned");

        AtomicFile.Write(path, "first\n");
        AtomicFile.Write(path, "second\n");

        Assert.Equal("second\n", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir.Combine("state")));
    }

    [Fact]
    public void AWriteThatFails_LeavesTheOldContentAndNoTemporaryFile()
    {
        // The target is a directory: the rename fails after the temporary file was written.
        var path = _dir.Combine("etc", "vgpus.d", "dbus.yaml");
        Directory.CreateDirectory(path);

        Assert.ThrowsAny<IOException>(() => AtomicFile.Write(path, "vgpus: []\n"));

        Assert.True(Directory.Exists(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir.Combine("etc", "vgpus.d")));
    }
}
