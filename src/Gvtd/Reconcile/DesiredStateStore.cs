using Gvtd.Contract;
using Gvtd.DesiredState;
using Microsoft.Extensions.Logging;

namespace Gvtd.Reconcile;

/// <summary>
/// Holds the last valid desired state. A reload that finds errors keeps the previous state in force
/// and records the errors; before the first valid load there is no state at all, and gvtd acts on nothing.
/// </summary>
public sealed class DesiredStateStore(DesiredStateLoader loader, ILogger<DesiredStateStore> logger)
{
    public DesiredStateLoader Loader => loader;

    /// <summary>The state in force, or null if no valid file has been read yet.</summary>
    public DesiredStateSnapshot? Current { get; private set; }

    /// <summary>Every error of the last load, one per line ("file:line:column: message"); empty when valid.</summary>
    public string Error { get; private set; } = "";

    /// <summary>The files the last load read (or tried to).</summary>
    public IReadOnlyList<string> Files { get; private set; } = [];

    public bool Reload()
    {
        Files = loader.DiscoverFiles();
        try
        {
            var loaded = loader.Load();
            if (!File.Exists(loader.MainFile))
                logger.LogWarning("No desired-state file at {File}; declaring no vGPUs until one is written", loader.MainFile);
            Current = loaded;
            Files = loaded.Files;
            Error = "";
            logger.LogInformation("Loaded desired state: {Count} vGPU(s) from {Files} file(s); interval {Interval}, prune {Prune}",
                loaded.VGpus.Count, loaded.Files.Count, Durations.Format(loaded.Settings.Interval), loaded.Settings.Prune.ToString().ToLowerInvariant());
            return true;
        }
        catch (InvalidConfigException e)
        {
            Error = string.Join("\n", e.Errors);
            foreach (var error in e.Errors) logger.LogError("Invalid desired state: {Error}", error.ToString());
            logger.LogWarning(Current is null
                ? "No valid desired state yet: gvtd changes nothing until the errors above are fixed"
                : "Keeping the last valid desired state in force; nothing changes until the errors above are fixed");
            return false;
        }
    }
}
