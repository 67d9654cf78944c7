using Gvtd.DesiredState;
using Gvtd.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gvtd.Tests.DesiredState;

/// <summary>
/// The watcher hears edits in directories that did not exist when it started: before, a
/// vgpus.d made later (or a missing /etc/gvtd) was never watched, and its files waited for a
/// reload by hand.
/// </summary>
public sealed class DesiredStateWatcherTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("etc/gvtd/vgpus.yaml", "etc/gvtd/vgpus.d/extra.yaml")]           // the drop-in directory made later
    [InlineData("etc/gvtd/vgpus.yaml", "etc/gvtd/vgpus.yaml")]                   // the main file's whole directory made later
    [InlineData("etc/gvtd/vgpus.yaml", "run/gvtd/vgpus.d/dbus.yaml")]            // the runtime drop-ins made later
    public async Task AFileInADirectoryMadeAfterStart_IsHeard(string mainFile, string written)
    {
        var main = _dir.Combine(mainFile);
        if (written != mainFile) _dir.Write(mainFile, "vgpus: []\n");
        var loader = new DesiredStateLoader(main, _dir.Combine("run", "gvtd"));
        var heard = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var watcher = new DesiredStateWatcher(loader, () => heard.TrySetResult(), NullLogger<DesiredStateWatcher>.Instance);
        await watcher.StartAsync(CancellationToken.None);

        _dir.Write(written, "vgpus: []\n"); // makes the missing directories, then the file

        await heard.Task.WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard: the event is what the test waits for
    }
}
