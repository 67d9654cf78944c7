using Gvtd.Contract;
using Microsoft.Extensions.Logging;

namespace Gvtd.DesiredState;

/// <summary>
/// Holds the last valid desired state, and is the one writer of it: reloads and changes to gvtd's
/// own declarations (AddVGpu, RemoveVGpu) run one at a time. A reload that finds errors keeps the
/// previous state in force and records the errors; before the first valid load there is no state
/// at all, and gvtd acts on nothing. The files are parsed once per change of their bytes: a pass
/// that finds them as they were last read reuses that reading.
/// </summary>
public sealed class DesiredStateStore(DesiredStateLoader loader, ILogger<DesiredStateStore> logger)
{
    private readonly Lock _writer = new();
    private volatile DesiredStateView _view = DesiredStateView.None;
    // What the files were at the last reading (by a reload or a change), and that reading itself,
    // valid or not: a reload or a change that finds the files so reuses it instead of parsing.
    private ulong? _readAt;
    private DesiredStateView _lastReading = DesiredStateView.None;
    // What the files were when the published view was read: a change may read newer files
    // without publishing them, and the next pass must still publish what it read.
    private ulong? _publishedAt;

    public DesiredStateLoader Loader => loader;

    public DesiredStateView View => _view;

    /// <summary>The state in force, or null if no valid file has been read yet.</summary>
    public DesiredStateSnapshot? Current => _view.State;

    /// <summary>Reads and validates the files, whatever they say, and publishes the result.</summary>
    public bool Reload()
    {
        lock (_writer) return Publish(Read(), _readAt);
    }

    /// <summary>
    /// Reloads only if the files' names or bytes differ from the last reading: each pass calls this,
    /// so an edit whose file event never reached gvtd is applied at the next pass all the same.
    /// </summary>
    public bool ReloadIfChanged()
    {
        lock (_writer)
        {
            var now = loader.Fingerprint();
            if (_publishedAt == now) return false;
            if (_readAt != now) Read();
            Publish(_lastReading, _readAt);
            return true;
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
            var now = _readAt == loader.Fingerprint() ? _lastReading : Read();
            return checkAndWrite(now);
        }
    }

    /// <summary>One reading of the files; the fingerprint is taken first, so an edit during the read causes another.</summary>
    private DesiredStateView Read()
    {
        var fingerprint = loader.Fingerprint();
        DesiredStateView reading;
        try
        {
            var loaded = loader.Load();
            reading = new DesiredStateView(loaded, "", loaded.Files);
        }
        catch (InvalidConfigException e)
        {
            reading = new DesiredStateView(null, string.Join("\n", e.Errors), loader.DiscoverFiles());
        }
        _readAt = fingerprint;
        _lastReading = reading;
        return reading;
    }

    private bool Publish(DesiredStateView reading, ulong? readAt)
    {
        _publishedAt = readAt;
        if (reading.State is { } loaded)
        {
            _view = reading;
var (interval, prune) = (Durations.Format(loaded.Settings.Interval), loaded.Settings.Prune.ToString().ToLowerInvariant());
            // SR-IOV PFs are named only where some are declared: most hosts have none.
            if (loaded.Functions.Count == 0)
                logger.LogInformation("Loaded desired state: {Count} vGPU(s) from {Files} file(s); interval {Interval}, prune {Prune}",
                    loaded.VGpus.Count, loaded.Files.Count, interval, prune);
            else
                logger.LogInformation("Loaded desired state: {Count} vGPU(s) and {Functions} SR-IOV PF(s) from {Files} file(s); interval {Interval}, prune {Prune}",
                    loaded.VGpus.Count, loaded.Functions.Count, loaded.Files.Count, interval, prune);
            return true;
        }
        var previous = _view.State;
        _view = reading with { State = previous };
        foreach (var error in reading.Error.Split('\n')) logger.LogError("Invalid desired state: {Error}", error);
        logger.LogWarning(previous is null
            ? "No valid desired state yet: gvtd changes nothing until the errors above are fixed"
            : "Keeping the last valid desired state in force; nothing changes until the errors above are fixed");
        return false;
    }
}
