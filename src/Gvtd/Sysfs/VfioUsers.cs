namespace Gvtd.Sysfs;

/// <summary>
/// Which VFIO groups and devices some process holds open, read from /proc/*/fd. QEMU holds
/// /dev/vfio/N (the IOMMU group) and, with iommufd, /dev/vfio/devices/vfioN; while it does, a
/// remove write blocks in the kernel, so gvtd treats either as "in use" and never removes the device.
///
/// Scanning every process's fds is the costliest part of an idle pass, so the result is kept until
/// an inotify watch on /dev/vfio sees a file there opened or closed (a process exiting closes its
/// files too). Without a live watch (no /dev/vfio visible here: vfio not loaded, or a sandbox's
/// private /dev) every read scans; absence of /dev/vfio is never taken to mean "nobody". Removal
/// decisions never rely on the cache at all: they ask for a fresh scan.
/// </summary>
public sealed class VfioUsers(string procRoot, string devRoot) : IDisposable
{
    public sealed record Snapshot(IReadOnlySet<int> Groups, IReadOnlySet<string> DeviceNodes, bool Complete);

    private readonly object _lock = new();
    private Interop.OpenCloseWatch? _watch;
    private long _seenChanges;
    private Snapshot? _last;

    /// <summary>
    /// Raised (on the watch's thread) when some process opened or closed a file in /dev/vfio, which
    /// includes a VM letting go of a device by exiting. Only while a watch is live.
    /// </summary>
    public event Action? OpenedOrClosed;

    public Snapshot Read(bool fresh = false)
    {
        var vfio = Path.Combine(devRoot, "vfio");
        lock (_lock)
        {
            if (!Directory.Exists(vfio) || _watch?.StoppedBecause is not null)
            {
                // A watch on a directory that is gone never fires again, nor does one whose thread
                // stopped on an error: drop it, and scan (a new one is tried next time).
                _watch?.Dispose();
                _watch = null;
            }
            else
            {
                if (_watch is null && Interop.OpenCloseWatch.TryStart([vfio, Path.Combine(vfio, "devices")]) is { } watch)
                {
                    watch.Changed += () => OpenedOrClosed?.Invoke();
                    _watch = watch;
                }
            }
            if (_watch is null)
                return _last = Scan();
            var changes = _watch.Changes;
            if (!fresh && _last is not null && changes == _seenChanges)
                return _last;
            // Take the count before scanning, so an open during the scan causes another scan next time.
            _seenChanges = changes;
            return _last = Scan();
        }
    }

    private Snapshot Scan()
    {
        var groups = new HashSet<int>();
        var nodes = new HashSet<string>(StringComparer.Ordinal);
        var complete = true;
        string[] processes;
        try
        {
            // Whole, inside the guard: a lazy enumeration would throw later, outside it.
            processes = Directory.GetDirectories(procRoot);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new(groups, nodes, Complete: false);
        }
        var targets = new List<string>();
        foreach (var process in processes)
        {
            if (!char.IsAsciiDigit(Path.GetFileName(process)[0])) continue;
            // Any fd directory not read whole (another user's process without CAP_SYS_PTRACE, EIO,
            // EMFILE) may hold the device: "not in use" would be a guess.
            if (Interop.LinkDirectory.ReadTargets(Path.Combine(process, "fd"), "/dev/vfio/"u8, targets) == Interop.LinkDirectory.Result.Unreadable)
                complete = false;
        }
        foreach (var target in targets)
        {
            var rest = target["/dev/vfio/".Length..];
            if (int.TryParse(rest, out var group)) groups.Add(group);
            else if (rest.StartsWith("devices/", StringComparison.Ordinal)) nodes.Add(rest["devices/".Length..]);
        }
        return new(groups, nodes, complete);
    }

    public void Dispose()
    {
        lock (_lock) _watch?.Dispose();
    }
}
