using Gvtd.Contract;

namespace Gvtd.Ownership;

/// <summary>
/// The UUIDs gvtd itself created, so that prune: owned never touches a device made by hand, libvirt
/// or mdevctl. Kept in the state directory and replaced atomically (temp file, fsync, rename) so a
/// crash or power cut leaves either the old or the new ledger, never half of one.
///
/// A create is recorded as intended ("UUID creating") before gvtd writes it to the kernel, and
/// confirmed or dropped after; intents a crash left behind are settled on the next pass by whether
/// the device exists. So every device gvtd made is known as gvtd's after any crash.
///
/// A ledger that cannot be written (a full or read-only disk) does not stop gvtd: the ledger in
/// memory stays right, <see cref="SaveError"/> says why the file is behind, and every change and
/// every pass tries again until the disk takes it.
/// </summary>
public sealed class OwnershipLedger
{
    private const string Header = "# gvtd ownership ledger: mediated devices gvtd created, one UUID per line, and \"sriov ADDRESS\" for each PF whose VFs gvtd enabled. Managed by gvtd.";
    private const string CreatingMark = "creating";
    private const string SriovMark = "sriov";

    /// <summary>One immutable value: readers on other threads (D-Bus commands) always see a whole set.</summary>
    private sealed record Entries(HashSet<string> Owned, HashSet<string> Creating)
    {
        /// <summary>SR-IOV PFs whose VFs gvtd enabled (recorded before the write, like an intent).</summary>
        public HashSet<string> Functions { get; init; } = new(StringComparer.Ordinal);
    }

    private readonly string _path;
    private readonly Lock _lock = new();
    private volatile Entries _entries;
    private bool _unsaved;

    private OwnershipLedger(string path, Entries entries)
    {
        _path = path;
        _entries = entries;
    }

    public string FilePath => _path;

    public IReadOnlySet<string> Owned => _entries.Owned;

    /// <summary>SR-IOV physical functions whose VFs gvtd enabled, by PCI address.</summary>
    public IReadOnlySet<string> OwnedFunctions => _entries.Functions;

    /// <summary>Creates recorded as intended and not yet confirmed or dropped.</summary>
    public IReadOnlySet<string> Creating => _entries.Creating;

    /// <summary>Empty when the file says what the ledger holds; otherwise why it could not be written.</summary>
    public string SaveError { get; private set; } = "";

    /// <summary>Loads the ledger; unreadable lines are reported and skipped, a missing file is an empty ledger.</summary>
    public static OwnershipLedger Load(string stateDir, Action<string> warn)
    {
        var path = Path.Combine(stateDir, "owned");
        var owned = new HashSet<string>(StringComparer.Ordinal);
        var creating = new HashSet<string>(StringComparer.Ordinal);
        var functions = new HashSet<string>(StringComparer.Ordinal);
        if (File.Exists(path))
        {
            var lineNo = 0;
            foreach (var raw in File.ReadLines(path))
            {
                lineNo++;
                var line = raw.Trim();
                if (line.Length == 0 || line.StartsWith('#')) continue;
                var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words is [SriovMark, var address])
                {
                    if (address.Contains(':') && Identifiers.TryNormaliseParent(address, out var pf, out _)) functions.Add(pf);
                    else warn($"{path}:{lineNo}: ignoring {UserText.Quote(line)}, not a PCI address");
                }
                else if (Identifiers.NormaliseUuid(words[0]) is not { } uuid || words.Length > 2 || (words.Length == 2 && words[1] != CreatingMark))
                    warn($"{path}:{lineNo}: ignoring {UserText.Quote(line)}, not a UUID");
                else if (words.Length == 2)
                    creating.Add(uuid);
                else
                    owned.Add(uuid);
            }
        }
        return new OwnershipLedger(path, new Entries(owned, creating) { Functions = functions });
    }

    /// <summary>Records creates about to be written, before they are.</summary>
    public void Intend(IEnumerable<string> uuids) =>
        Change(e => e with { Creating = Union(e.Creating, uuids.Where(u => !e.Owned.Contains(u))) });

    /// <summary>Records devices created (confirming their intents) and removed; returns whether anything changed.</summary>
    public bool Update(IEnumerable<string> created, IEnumerable<string> removed)
    {
        var createdList = created.ToList();
        return Change(e => e with { Owned = Except(Union(e.Owned, createdList), removed), Creating = Except(e.Creating, createdList) });
    }

    /// <summary>
    /// Records PFs whose VFs gvtd is about to enable, before it writes: a crash after the write
    /// still knows them as gvtd's. One recorded whose write failed has 0 VFs, and is forgotten as stale.
    /// </summary>
    public void OwnFunctions(IEnumerable<string> addresses) => Change(e => e with { Functions = Union(e.Functions, addresses) });

    /// <summary>Forgets PFs whose VFs are gone (disabled, or known to be 0) and that are no longer declared.</summary>
    public void ForgetFunctions(IEnumerable<string> addresses) => Change(e => e with { Functions = Except(e.Functions, addresses) });

    /// <summary>Drops intents whose create failed: the kernel made nothing.</summary>
    public void Abandon(IEnumerable<string> uuids) => Change(e => e with { Creating = Except(e.Creating, uuids) });

    /// <summary>
    /// Owned devices that are gone and no longer declared, which the ledger may forget. Only what is
    /// known to be gone: a device that may exist (listed but unreadable, or any device while gvtd
    /// cannot list them) or whose write is still stuck in the kernel stays owned.
    /// </summary>
    public static IReadOnlyList<string> Stale(IReadOnlySet<string> owned, IReadOnlySet<string> declared, Sysfs.ObservedState observed, Func<string, bool> pending) =>
        owned.Where(u => !declared.Contains(u) && !observed.MayExist(u) && !pending(u)).ToList();

    /// <summary>
    /// Settles intents an earlier pass or run left (a crash between the record and the write, or
    /// after it): a device that exists was made by gvtd; one that does not, was not.
    /// <paramref name="pending"/> are those whose write has not returned yet: they wait.
    /// </summary>
    public void Settle(Func<string, bool> exists, Func<string, bool> pending)
    {
        var settled = _entries.Creating.Where(u => !pending(u)).ToList();
        if (settled.Count == 0) return;
        Change(e => e with { Owned = Union(e.Owned, settled.Where(exists)), Creating = Except(e.Creating, settled) });
    }

    /// <summary>Writes the ledger if an earlier write failed; cheap when there is nothing to do.</summary>
    public void RetrySave()
    {
        lock (_lock)
        {
            if (_unsaved) Save(_entries);
        }
    }

    private bool Change(Func<Entries, Entries> change)
    {
        lock (_lock)
        {
            var before = _entries;
            var after = change(before);
            if (after.Owned.SetEquals(before.Owned) && after.Creating.SetEquals(before.Creating) && after.Functions.SetEquals(before.Functions))
            {
                if (_unsaved) Save(before);
                return false;
            }
            _entries = after;
            Save(after);
            return true;
        }
    }

    private void Save(Entries entries)
    {
        var text = new System.Text.StringBuilder().AppendLine(Header);
        foreach (var uuid in entries.Owned.Order(StringComparer.Ordinal)) text.AppendLine(uuid);
        foreach (var uuid in entries.Creating.Order(StringComparer.Ordinal)) text.AppendLine($"{uuid} {CreatingMark}");
        foreach (var address in entries.Functions.Order(StringComparer.Ordinal)) text.AppendLine($"{SriovMark} {address}");
        try
        {
            Files.AtomicFile.Write(_path, text.ToString());
            _unsaved = false;
            SaveError = "";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _unsaved = true;
            SaveError = $"cannot write {_path}: {e.Message}";
        }
    }

    private static HashSet<string> Union(IEnumerable<string> a, IEnumerable<string> b) => new(a.Concat(b), StringComparer.Ordinal);

    private static HashSet<string> Except(IEnumerable<string> a, IEnumerable<string> b)
    {
        var result = new HashSet<string>(a, StringComparer.Ordinal);
        result.ExceptWith(b);
        return result;
    }
}
