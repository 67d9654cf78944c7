namespace Gvtd.DesiredState;

/// <summary>
/// Finds the main file and its drop-ins, reads them all and merges them into one validated
/// <see cref="DesiredStateSnapshot"/>, or throws <see cref="InvalidConfigException"/> listing every problem.
/// </summary>
public sealed class DesiredStateLoader(string mainFile, string runtimeDir)
{
    public string MainFile { get; } = mainFile;

    /// <summary>Drop-in directories, in the order their files are read.</summary>
    public IReadOnlyList<string> DropInDirs { get; } =
        [Path.Combine(Path.GetDirectoryName(Path.GetFullPath(mainFile))!, "vgpus.d"), Path.Combine(runtimeDir, "vgpus.d")];

    /// <summary>The files that make up the desired state right now: the main file (if present) then drop-ins.</summary>
    public IReadOnlyList<string> DiscoverFiles()
    {
        var files = new List<string>();
        if (File.Exists(MainFile)) files.Add(MainFile);
        foreach (var dir in DropInDirs)
        {
            if (!Directory.Exists(dir)) continue;
            files.AddRange(Directory.EnumerateFiles(dir, "*.yaml").Order(StringComparer.Ordinal));
        }
        return files;
    }

    public DesiredStateSnapshot Load()
    {
        var errors = new List<ConfigError>();
        var settings = Settings.Default;
        var vgpus = new List<DesiredVGpu>();
        var files = DiscoverFiles();
        foreach (var file in files)
        {
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                errors.Add(new(new SourceLocation(file, 1, 1), "cannot read the file: " + e.Message));
                continue;
            }
            var content = DesiredStateFile.Parse(file, text, allowSettings: file == MainFile, errors);
            settings = content.Settings ?? settings;
            vgpus.AddRange(content.VGpus);
        }

        foreach (var group in vgpus.GroupBy(v => v.Uuid).Where(g => g.Count() > 1))
        {
            var first = group.First();
            foreach (var duplicate in group.Skip(1))
                errors.Add(new(duplicate.Source, $"uuid {duplicate.Uuid} is declared twice (first at {first.Source}); each vGPU needs its own UUID"));
        }

        if (errors.Count > 0) throw new InvalidConfigException(errors);
        return new DesiredStateSnapshot(settings, vgpus, files);
    }
}
