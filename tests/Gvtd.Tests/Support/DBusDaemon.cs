using System.Diagnostics;

namespace Gvtd.Tests.Support;

/// <summary>
/// A private dbus-daemon for one test (or test class). Either runs a caller-supplied config file, or generates a
/// session-type config in a fresh temp dir listening on unix:path=&lt;dir&gt;/bus, with EXTERNAL auth and a
/// default policy that lets any user connect, own names, send, receive and eavesdrop (so tests can call as
/// uid 65534 and run `busctl monitor`). The dir is 0755 and the socket 0666 so unprivileged callers reach it.
/// Dispose kills the daemon and deletes the temp dir. A missing dbus-daemon fails the test, it never skips.
/// </summary>
public sealed class DBusDaemon : IDisposable
{
    private readonly Process _process;
    private readonly string _tempDir;
    private readonly Task<string> _stderr;

    private DBusDaemon(Process process, string tempDir, string address, Task<string> stderr)
    {
        _process = process;
        _tempDir = tempDir;
        Address = address;
        _stderr = stderr;
    }

    /// <summary>The bus address dbus-daemon printed (e.g. "unix:path=/tmp/.../bus,guid=...").</summary>
    public string Address { get; }

    /// <summary>Temp dir holding the generated config and the socket; deleted on Dispose.</summary>
    public string Directory => _tempDir;

    public int ProcessId => _process.Id;

    /// <summary>Start a daemon; <paramref name="configFile"/> null = generate a permissive session-type config.</summary>
    /// <summary>
    /// Start a daemon with a config made for its socket: <paramref name="configFor"/> gets the socket path (in the
    /// daemon's 0755 temp dir, made 0666 once listening) and returns the config XML.
    /// </summary>
    public static DBusDaemon Start(Func<string, string> configFor, TimeSpan? startTimeout = null) =>
        Start(configFile: null, startTimeout, configFor);

    public static DBusDaemon Start(string? configFile = null, TimeSpan? startTimeout = null) =>
        Start(configFile, startTimeout, configFor: null);

    private static DBusDaemon Start(string? configFile, TimeSpan? startTimeout, Func<string, string>? configFor)
    {
        string exe = FindDaemon();
        string dir = System.IO.Directory.CreateTempSubdirectory("gvtd-dbus-").FullName;
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101); // 0755: uid 65534 must traverse it
        Process? process = null;
        try
        {
            string socket = Path.Combine(dir, "bus");
            if (configFile is null)
            {
                configFile = Path.Combine(dir, "bus.conf");
                File.WriteAllText(configFile, configFor is null ? SessionConfig($"unix:path={socket}") : configFor(socket));
            }
            else if (!File.Exists(configFile))
            {
                throw new FileNotFoundException($"dbus-daemon config file {configFile} does not exist.", configFile);
            }

            var psi = new ProcessStartInfo(exe)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            psi.ArgumentList.Add($"--config-file={configFile}");
            psi.ArgumentList.Add("--print-address=1");
            psi.ArgumentList.Add("--nofork");
            psi.ArgumentList.Add("--nopidfile");
            psi.ArgumentList.Add("--nosyslog");
            process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {exe}.");
            var stderr = process.StandardError.ReadToEndAsync();

            var addressTask = process.StandardOutput.ReadLineAsync();
            if (!addressTask.Wait(startTimeout ?? TimeSpan.FromSeconds(10)) || string.IsNullOrWhiteSpace(addressTask.Result))
            {
                string err = process.HasExited ? stderr.Result : "(still running)";
                throw new InvalidOperationException($"dbus-daemon did not print its address (config {configFile}). stderr: {err}");
            }
            string address = addressTask.Result!.Trim();

            if (File.Exists(socket) && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(socket, (UnixFileMode)0b110_110_110); // 0666: connect() needs write permission
            return new DBusDaemon(process, dir, address, stderr);
        }
        catch
        {
            Kill(process);
            TryDelete(dir);
            throw;
        }
    }

    /// <summary>A session-type config listening on <paramref name="listenAddress"/> that allows everybody everything.</summary>
    public static string SessionConfig(string listenAddress) => $"""
        <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
         "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
        <busconfig>
          <type>session</type>
          <listen>{listenAddress}</listen>
          <auth>EXTERNAL</auth>
          <policy context="default">
            <allow user="*"/>
            <allow send_destination="*" eavesdrop="true"/>
            <allow eavesdrop="true"/>
            <allow own="*"/>
            <allow receive_sender="*"/>
          </policy>
        </busconfig>
        """;

    /// <summary>What the daemon wrote to stderr so far (complete only after Dispose).</summary>
    public string StandardErrorSoFar => _stderr.IsCompleted ? _stderr.Result : "";

    public void Dispose()
    {
        Kill(_process);
        TryDelete(_tempDir);
    }

    private static string FindDaemon()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/bin"))
        {
            if (dir.Length == 0)
                continue;
            string candidate = Path.Combine(dir, "dbus-daemon");
            if (File.Exists(candidate))
                return candidate;
        }
        throw new InvalidOperationException(
            "dbus-daemon is not installed, but the D-Bus tests need a private bus. Install it (Debian: apt-get install dbus-daemon).");
    }

    private static void Kill(Process? p)
    {
        if (p is null)
            return;
        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        p.Dispose();
    }

    private static void TryDelete(string dir)
    {
        try
        {
            System.IO.Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
