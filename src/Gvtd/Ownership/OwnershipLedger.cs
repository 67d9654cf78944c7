using Gvtd.Contract;

namespace Gvtd.Ownership;

/// <summary>
/// The UUIDs gvtd itself created, so that prune: owned never touches a device made by hand, libvirt
/// or mdevctl. Kept in the state directory and replaced atomically (temp file, fsync, rename) so a
/// crash or power cut leaves either the old or the new ledger, never half of one.
/// </summary>
public sealed class OwnershipLedger
{
    private const string Header = "# gvtd ownership ledger: mediated devices gvtd created, one UUID per line. Managed by gvtd.";
    private readonly string _path;
    // Copy-on-write: readers on other threads (D-Bus commands) always see a whole, unchanging set.
    private volatile HashSet<string> _owned;

    private OwnershipLedger(string path, HashSet<string> owned)
    {
        _path = path;
        _owned = owned;
    }

    public string FilePath => _path;
    public IReadOnlySet<string> Owned => _owned;

    /// <summary>Loads the ledger; unreadable lines are reported and skipped, a missing file is an empty ledger.</summary>
    public static OwnershipLedger Load(string stateDir, Action<string> warn)
    {
        var path = Path.Combine(stateDir, "owned");
        var owned = new HashSet<string>(StringComparer.Ordinal);
        if (File.Exists(path))
        {
            var lineNo = 0;
            foreach (var raw in File.ReadLines(path))
            {
                lineNo++;
                var line = raw.Trim();
                if (line.Length == 0 || line.StartsWith('#')) continue;
                if (Identifiers.NormaliseUuid(line) is { } uuid) owned.Add(uuid);
                else warn($"{path}:{lineNo}: ignoring {UserText.Quote(line)}, not a UUID");
            }
        }
        return new OwnershipLedger(path, owned);
    }

    /// <summary>Records changes and persists them before returning; returns whether anything changed.</summary>
    public bool Update(IEnumerable<string> added, IEnumerable<string> removed)
    {
        var next = new HashSet<string>(_owned, StringComparer.Ordinal);
        var changed = false;
        foreach (var uuid in added) changed |= next.Add(uuid);
        foreach (var uuid in removed) changed |= next.Remove(uuid);
        if (!changed) return false;
        Save(next);
        _owned = next;
        return true;
    }

    private void Save(HashSet<string> owned)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var temp = _path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new StreamWriter(stream))
        {
            writer.WriteLine(Header);
            foreach (var uuid in owned.Order(StringComparer.Ordinal)) writer.WriteLine(uuid);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, _path, overwrite: true);
    }
}
