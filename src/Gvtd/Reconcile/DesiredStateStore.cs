using Gvtd.Contract;
using Gvtd.DesiredState;
using Microsoft.Extensions.Logging;

namespace Gvtd.Reconcile;

/// <summary>
/// The desired state as one immutable value: the state in force (null before the first valid
/// load), every error of the last load (one per line, "file:line:column: message"; empty when
/// valid), and the files that load read. Readers on any thread take it whole.
/// </summary>
public sealed record DesiredStateView(DesiredStateSnapshot? State, string Error, IReadOnlyList<string> Files)
{
    public static readonly DesiredStateView None = new(null, "", []);
}

/// <summary>
/// Holds the last valid desired state, and is the one writer of it: reloads and changes to gvtd's
/// own declarations (AddVGpu, RemoveVGpu) run one at a time. A reload that finds errors keeps the
/// previous state in force and records the errors; before the first valid load there is no state
/// at all, and gvtd acts on nothing.
/// </summary>
public sealed class DesiredStateStore(DesiredStateLoader loader, ILogger<DesiredStateStore> logger)
{
    private readonly Lock _writer = new();
    private volatile DesiredStateView _view = DesiredStateView.None;

    public DesiredStateLoader Loader => loader;

    public DesiredStateView View => _view;

    /// <summary>The state in force, or null if no valid file has been read yet.</summary>
    public DesiredStateSnapshot? Current => _view.State;

    public bool Reload()
    {
        lock (_writer)
        {
            var files = loader.DiscoverFiles();
            try
            {
                var loaded = loader.Load();
                _view = new DesiredStateView(loaded, "", loaded.Files);
                logger.LogInformation("Loaded desired state: {Count} vGPU(s) from {Files} file(s); interval {Interval}, prune {Prune}",
                    loaded.VGpus.Count, loaded.Files.Count, Durations.Format(loaded.Settings.Interval), loaded.Settings.Prune.ToString().ToLowerInvariant());
                return true;
            }
            catch (InvalidConfigException e)
            {
                var previous = _view.State;
                _view = new DesiredStateView(previous, string.Join("\n", e.Errors), files);
                foreach (var error in e.Errors) logger.LogError("Invalid desired state: {Error}", error.ToString());
                logger.LogWarning(previous is null
                    ? "No valid desired state yet: gvtd changes nothing until the errors above are fixed"
                    : "Keeping the last valid desired state in force; nothing changes until the errors above are fixed");
                return false;
            }
        }
    }

    /// <summary>
    /// Runs one change of the files with its check as one step: <paramref name="checkAndWrite"/>
    /// gets the files as they are on disk now (not as last published), refuses by throwing, or
    /// writes. Two changes never interleave, so two requests for the same UUID cannot both pass
    /// the check. The next reload publishes the result.
    /// </summary>
    public T Change<T>(Func<DesiredStateView, T> checkAndWrite)
    {
        lock (_writer)
        {
            DesiredStateView now;
            try
            {
                var loaded = loader.Load();
                now = new DesiredStateView(loaded, "", loaded.Files);
            }
            catch (InvalidConfigException e)
            {
                now = new DesiredStateView(null, string.Join("\n", e.Errors), loader.DiscoverFiles());
            }
            return checkAndWrite(now);
        }
    }
}
