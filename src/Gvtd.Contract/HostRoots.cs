namespace Gvtd.Contract;

/// <summary>
/// Where the host's filesystems and gvtd's own files are: sysfs, procfs, devtmpfs, the main
/// desired-state file, the state and the runtime directory. One object for everything gvtd and
/// gvtctl read or write (as mdevctl's one environment is), so the daemon, <c>gvtd --check-config</c>
/// and <c>gvtctl doctor</c> agree on where to look, and tests and --simulate point them all at
/// trees of their own.
/// </summary>
public sealed record HostRoots(string Sys, string Proc, string Dev, string ConfigFile, string State, string Runtime)
{
    /// <summary>A real host's.</summary>
    public static HostRoots Default { get; } = new("/sys", "/proc", "/dev", "/etc/gvtd/vgpus.yaml", "/var/lib/gvtd", "/run/gvtd");
}
