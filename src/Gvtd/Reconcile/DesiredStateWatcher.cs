using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gvtd.Reconcile;

/// <summary>
/// Reloads when a desired-state file changes. Editors save by writing a temp file and renaming it,
/// and one save raises several events, so events are debounced into one reload.
/// </summary>
public sealed class DesiredStateWatcher(DesiredStateStore desired, ReconcileWorker worker, ILogger<DesiredStateWatcher> logger)
    : IHostedService, IDisposable
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(300);
    private readonly List<FileSystemWatcher> _watchers = [];
    private Timer? _timer;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = new Timer(_ => worker.Trigger("file change", reload: true, isExplicit: true));
        var mainDir = Path.GetDirectoryName(Path.GetFullPath(desired.Loader.MainFile))!;
        // The main file's directory (with its vgpus.d below it) and the runtime drop-in directory.
        foreach (var dir in new[] { mainDir }.Concat(desired.Loader.DropInDirs.Where(d => !d.StartsWith(mainDir + "/", StringComparison.Ordinal))))
        {
            if (!Directory.Exists(dir))
            {
                logger.LogDebug("Not watching {Dir}: it does not exist", dir);
                continue;
            }
            var watcher = new FileSystemWatcher(dir) { IncludeSubdirectories = true, NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.DirectoryName };
            watcher.Changed += OnEvent;
            watcher.Created += OnEvent;
            watcher.Deleted += OnEvent;
            watcher.Renamed += OnEvent;
            watcher.Error += (_, e) => logger.LogWarning("Watching {Dir} failed: {Error}; changes are picked up at the next interval", dir, e.GetException().Message);
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
        return Task.CompletedTask;
    }

    private void OnEvent(object sender, FileSystemEventArgs e)
    {
        if (IsRelevant(e.FullPath) || (e is RenamedEventArgs r && IsRelevant(r.OldFullPath)))
            _timer?.Change(Debounce, Timeout.InfiniteTimeSpan);
    }

    private bool IsRelevant(string path) =>
        path == Path.GetFullPath(desired.Loader.MainFile)
        || desired.Loader.DropInDirs.Any(d => path == d || (path.StartsWith(d + "/", StringComparison.Ordinal) && path.EndsWith(".yaml", StringComparison.Ordinal)));

    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var watcher in _watchers) watcher.EnableRaisingEvents = false;
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        foreach (var watcher in _watchers) watcher.Dispose();
        _timer?.Dispose();
    }
}
