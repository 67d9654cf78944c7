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

    /// <summary>
    /// A token of what the files say now: their names and bytes, hashed (64-bit FNV-1a; no parsing,
    /// a few microseconds for a usual file). Equal tokens mean the same files with the same bytes,
    /// so a pass can tell whether it must reload. A file that cannot be read hashes as its error.
    /// </summary>
    public ulong Fingerprint()
    {
        var hash = Fnv.Offset;
        foreach (var file in DiscoverFiles())
        {
            hash = Fnv.Add(hash, System.Text.Encoding.UTF8.GetBytes(file));
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
                var buffer = new byte[Math.Min(stream.Length, DesiredStateFile.MaxBytes + 1)];
                hash = Fnv.Add(hash, buffer.AsSpan(0, stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false)));
                hash = Fnv.Add(hash, BitConverter.GetBytes(stream.Length));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                hash = Fnv.Add(hash, System.Text.Encoding.UTF8.GetBytes(e.GetType().Name));
            }
        }
        return hash;
    }

    private static class Fnv
    {
        public const ulong Offset = 14695981039346656037;

        public static ulong Add(ulong hash, ReadOnlySpan<byte> bytes)
        {
            foreach (var b in bytes) hash = (hash ^ b) * 1099511628211;
            return hash;
        }
    }

    /// <summary>
    /// Every file must exist, be readable and say 'vgpus' (an empty list declares none). A missing,
    /// unreadable, empty or truncated file is what a crashed editor, a full disk or a slip leaves,
    /// not a wish to remove every vGPU, so it is an error and the last valid state stays in force.
    /// </summary>
    public DesiredStateSnapshot Load()
    {
        var errors = new List<ConfigError>();
        var settings = Settings.Default;
        var vgpus = new List<DesiredVGpu>();
        var functions = new List<DesiredFunction>();
        var files = DiscoverFiles();
        if (!files.Contains(MainFile))
            errors.Add(new(new SourceLocation(MainFile, 1, 1), Directory.Exists(MainFile)
                ? "is a directory, not the desired-state file; replace it with a file (write 'vgpus: []' to declare no vGPUs)"
                : "does not exist; gvtd keeps what it has until it does (write 'vgpus: []' to declare no vGPUs)"));
        foreach (var file in files)
        {
            if (DesiredStateFile.Read(file, errors) is not { } text) continue;
            var before = errors.Count;
            var content = DesiredStateFile.Parse(file, text, allowSettings: file == MainFile, errors);
            if (!content.SaysVGpus && errors.Count == before)
                errors.Add(new(new SourceLocation(file, 1, 1), (text.Trim().Length == 0 ? "the file is empty" : "the file has no 'vgpus' or 'sriov' key")
                    + "; an empty or cut-short file is not taken to mean 'no vGPUs' (write 'vgpus: []' to declare none)"));
            settings = content.Settings ?? settings;
            vgpus.AddRange(content.VGpus);
            functions.AddRange(content.Functions);
        }

        foreach (var group in vgpus.GroupBy(v => v.Uuid).Where(g => g.Count() > 1))
        {
            var first = group.First();
            foreach (var duplicate in group.Skip(1))
                errors.Add(new(duplicate.Source, $"uuid {duplicate.Uuid} is declared twice (first at {first.Source}); each vGPU needs its own UUID"));
        }

        foreach (var group in functions.GroupBy(f => f.Address).Where(g => g.Count() > 1))
        {
            var first = group.First();
            foreach (var duplicate in group.Skip(1))
                errors.Add(new(duplicate.Source, $"pf {duplicate.Address} is declared twice (first at {first.Source}); declare each physical function once"));
        }
        // A VF is a PCI function of its own; as an mdev parent it is declared as one, never as a PF too.
        foreach (var function in functions.Where(f => vgpus.Any(v => v.Parent == f.Address)))
            errors.Add(new(function.Source, $"{function.Address} is both an SR-IOV pf here and the parent of vGPU {vgpus.First(v => v.Parent == function.Address).Uuid}; a device is shared one way or the other"));

        if (errors.Count > 0) throw new InvalidConfigException(errors);
        return new DesiredStateSnapshot(settings, vgpus, files) { Functions = functions };
    }
}
