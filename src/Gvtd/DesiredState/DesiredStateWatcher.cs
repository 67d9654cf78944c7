using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gvtd.DesiredState;

/// <summary>
/// Says when a desired-state file may have changed. Editors save by writing a temp file and
/// renaming it, and one save raises several events, so events are debounced into one call of
/// <paramref name="edited"/>. A directory that does not exist yet (no /etc/gvtd/vgpus.d at start)
/// is watched from its nearest existing ancestor and from its creation on; a watch that fails is
/// set up again and counts as an edit, since events may have been lost. Whatever still slips by
/// is caught by the passes themselves, which reload whenever the files' bytes changed.
/// </summary>
public sealed class DesiredStateWatcher(DesiredStateLoader loader, Action edited, ILogger<DesiredStateWatcher> logger)
    : IHostedService, IDisposable
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(300);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, FileSystemWatcher> _watchers = new(StringComparer.Ordinal);
    private Timer? _timer;
    private bool _stopped;

    /// <summary>The directories that hold the files: the main file's (with its vgpus.d below it) and the runtime drop-in one.</summary>
    private IEnumerable<string> Wanted
    {
        get
        {
            var mainDir = Path.GetDirectoryName(Path.GetFullPath(loader.MainFile))!;
            return new[] { mainDir }.Concat(loader.DropInDirs.Where(d => !d.StartsWith(mainDir + "/", StringComparison.Ordinal)));
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = new Timer(_ => edited());
        Rewatch();
        return Task.CompletedTask;
    }

    /// <summary>Watches each wanted directory, or while it is missing, its nearest existing ancestor.</summary>
    private void Rewatch()
    {
        lock (_lock)
        {
            if (_stopped) return;
            var now = Wanted.Select(NearestExisting).OfType<string>().Distinct(StringComparer.Ordinal).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _watchers.Keys.Where(d => !now.Contains(d)).ToList())
            {
                _watchers[gone].Dispose();
                _watchers.Remove(gone);
            }
            foreach (var dir in now.Where(d => !_watchers.ContainsKey(d)))
            {
                try
                {
                    _watchers[dir] = Watch(dir, recursive: Wanted.Contains(dir));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    logger.LogWarning("Cannot watch {Dir} ({Error}); edits there are picked up at the next pass", dir, e.Message);
                }
            }
        }
    }

    private FileSystemWatcher Watch(string dir, bool recursive)
    {
        var watcher = new FileSystemWatcher(dir)
        {
            IncludeSubdirectories = recursive,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.DirectoryName,
        };
        watcher.Changed += OnEvent;
        watcher.Created += OnEvent;
        watcher.Deleted += OnEvent;
        watcher.Renamed += OnEvent;
        watcher.Error += (_, e) =>
        {
            logger.LogWarning("Watching {Dir} failed ({Error}); watching it again, and reloading in case an edit was missed", dir, e.GetException().Message);
            lock (_lock)
            {
                if (_watchers.Remove(dir, out var failed)) failed.Dispose();
            }
            Rewatch();
            _timer?.Change(Debounce, Timeout.InfiniteTimeSpan);
        };
        watcher.EnableRaisingEvents = true;
        return watcher;
    }

    private static string? NearestExisting(string dir)
    {
        for (var d = dir; d is not null; d = Path.GetDirectoryName(d))
            if (Directory.Exists(d)) return d;
        return null;
    }

    private void OnEvent(object sender, FileSystemEventArgs e)
    {
        // A directory on the way to a wanted one came or went: watch what exists now.
        if (e.ChangeType is WatcherChangeTypes.Created or WatcherChangeTypes.Deleted or WatcherChangeTypes.Renamed
            && Wanted.Any(w => w == e.FullPath || w.StartsWith(e.FullPath + "/", StringComparison.Ordinal)))
        {
            Rewatch();
            _timer?.Change(Debounce, Timeout.InfiniteTimeSpan);
        }
        if (IsRelevant(e.FullPath) || (e is RenamedEventArgs r && IsRelevant(r.OldFullPath)))
            _timer?.Change(Debounce, Timeout.InfiniteTimeSpan);
    }

    private bool IsRelevant(string path) =>
        path == Path.GetFullPath(loader.MainFile)
        || loader.DropInDirs.Any(d => path == d || (path.StartsWith(d + "/", StringComparison.Ordinal) && path.EndsWith(".yaml", StringComparison.Ordinal)));

    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _stopped = true;
            foreach (var watcher in _watchers.Values) watcher.EnableRaisingEvents = false;
        }
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _stopped = true;
            foreach (var watcher in _watchers.Values) watcher.Dispose();
            _watchers.Clear();
        }
        _timer?.Dispose();
    }
}
