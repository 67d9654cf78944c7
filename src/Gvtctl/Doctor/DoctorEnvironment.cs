using Gvtd.Contract;
using System.Diagnostics;

namespace Gvtctl.Doctor;

/// <summary>What gvtd says about itself, as the CLI reads it over D-Bus.</summary>
/// <param name="Running">gvtd answered on the bus.</param>
/// <param name="State">Its own word for its state (e.g. "converged"), when it gave one.</param>
/// <param name="ConfigError">Why the desired-state file was refused; null when it loaded.</param>
public sealed record DaemonStatus(bool Running, string? State, string? ConfigError);

/// <summary>
/// Everything the doctor checks read, so tests can point them at fixture trees. The checks only read
/// files under the roots' sysfs and procfs (the same <see cref="HostRoots"/> gvtd takes), and reach
/// outside through the two seams.
/// </summary>
/// <param name="Roots">Where the host's filesystems are.</param>
/// <param name="RunVersion">Runs "PROGRAM --version" and returns its output; null when PROGRAM is not installed (or did not answer).</param>
/// <param name="DaemonStatus">Asks gvtd how it is; null when the caller cannot ask (the check is then Skipped).</param>
public sealed record DoctorEnvironment(
    HostRoots Roots,
    Func<string, string?> RunVersion,
    Func<DaemonStatus>? DaemonStatus = null)
{
    /// <summary>This machine: /sys, /proc, programs found on PATH; no daemon seam (the CLI adds it with <c>with</c>).</summary>
    public static DoctorEnvironment Host { get; } = new(HostRoots.Default, RunVersionOnPath);

    public string SysfsRoot => Roots.Sys;

    public string ProcRoot => Roots.Proc;

    /// <summary>Finds <paramref name="program"/> on PATH and returns what "--version" printed, or null.</summary>
    public static string? RunVersionOnPath(string program)
    {
        var path = FindOnPath(program);
        if (path is null) return null;
        try
        {
            var start = new ProcessStartInfo(path, "--version")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            using var process = Process.Start(start);
            if (process is null) return null;
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                return null;
            }
            return stdout.Wait(TimeSpan.FromSeconds(1)) ? stdout.Result : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string? FindOnPath(string program)
    {
        var path = Environment.GetEnvironmentVariable("PATH");
        if (string.IsNullOrEmpty(path)) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
