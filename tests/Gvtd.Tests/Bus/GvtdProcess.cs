using System.Collections.Concurrent;
using System.Diagnostics;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Bus;

/// <summary>
/// The real gvtd daemon, run as its own process on the simulated GPU and served on a private bus,
/// exactly as a user would run it (only the directories point into a temporary tree).
/// </summary>
public sealed class GvtdProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();

    public string Dir { get; }
    public string ConfigPath => Path.Combine(Dir, "etc", "vgpus.yaml");
    public string DropInDir => Path.Combine(Dir, "etc", "vgpus.d");
    public string StateDir => Path.Combine(Dir, "state");
    public string RuntimeDir => Path.Combine(Dir, "run");
    public string SysfsRoot => Path.Combine(Dir, "sys");
    public string BusAddress { get; }
    public int Pid => _process.Id;
    public string Log => string.Join('\n', _log);

    private GvtdProcess(string dir, string busAddress, Process process)
    {
        Dir = dir;
        BusAddress = busAddress;
        _process = process;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Starts gvtd with the given main file and waits until its first pass is published.</summary>
    /// <paramref name="launcher"/> runs gvtd (e.g. nohup, which starts it with SIGHUP ignored).
    public static GvtdProcess Start(string busAddress, string yaml, string? dir = null, IDictionary<string, string>? environment = null,
        IEnumerable<string>? extraArguments = null, string? launcher = null)
    {
        dir ??= Directory.CreateTempSubdirectory("gvtd-daemon-").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "etc"));
        File.WriteAllText(Path.Combine(dir, "etc", "vgpus.yaml"), yaml);

        string[] command = launcher is null ? [DotnetHost()] : [launcher, DotnetHost()];
        var psi = new ProcessStartInfo(command[0], [
            .. command.Skip(1),
            Path.Combine(AppContext.BaseDirectory, "gvtd.dll"),
            "--simulate", "--bus", "system",
            "--config", Path.Combine(dir, "etc", "vgpus.yaml"),
            "--state-dir", Path.Combine(dir, "state"),
            "--runtime-dir", Path.Combine(dir, "run"),
            "--sysfs-root", Path.Combine(dir, "sys"),
            .. extraArguments ?? [],
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["DBUS_SYSTEM_BUS_ADDRESS"] = busAddress;
        psi.Environment.Remove("JOURNAL_STREAM");
        psi.Environment.Remove("NOTIFY_SOCKET");
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) psi.Environment[key] = value;
        var gvtd = new GvtdProcess(dir, busAddress, Process.Start(psi)!);
        gvtd.WaitUntil(() => gvtd.Property("State") is not null and not "starting" and not "reconciling", HangGuard.Timeout);
        return gvtd;
    }

    /// <summary>A Manager property as a string (JSON data), or null while the daemon does not answer.</summary>
    public string? Property(string name)
    {
        var result = Busctl.Run(BusAddress, ["get-property", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", name], json: true);
        return result.Success ? result.Json().RootElement.GetProperty("data").ToString() : null;
    }

    /// <summary>Polls until the condition holds; <paramref name="timeout"/> is a hang guard, not a verdict on speed.</summary>
    public void WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (_process.HasExited) throw new InvalidOperationException($"gvtd exited with {_process.ExitCode}:\n{Log}");
            if (deadline.Elapsed > timeout) throw new TimeoutException($"hang guard: gvtd did not get there within {timeout.TotalSeconds} s:\n{Log}");
            Thread.Sleep(50);
        }
    }

    /// <summary>
    /// Waits (hang guard) until the daemon reports idle. A pass that gvtd's own creates start with
    /// their uevents may begin at any moment after the first one, later on a busy machine: a test
    /// that wants "idle" waits for it rather than reading State once.
    /// </summary>
    public void WaitUntilIdle() => WaitUntil(() => Property("State")?.Trim('"') == "idle", HangGuard.Timeout);

    /// <summary>Resident memory of the daemon in KiB, from /proc.</summary>
    public long RssKiB() =>
        long.Parse(File.ReadLines($"/proc/{Pid}/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    public void Signal(string signal) => Process.Start("kill", ["-" + signal, Pid.ToString()])!.WaitForExit();

    /// <summary>
    /// Waits for the daemon to exit, then for the rest of its output: WaitForExit with a timeout
    /// returns before the last lines are read off the pipe, so a check of the log after it could
    /// miss them on a busy machine.
    /// </summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) return false;
        _process.WaitForExit();
        return true;
    }

    /// <summary>
    /// Waits (hang guard) until the log holds <paramref name="text"/>: what gvtd wrote reaches the
    /// test through a pipe, read on another thread, a little after gvtd did what it logs.
    /// </summary>
    public void WaitForLog(string text) => WaitUntil(() => Log.Contains(text), HangGuard.Timeout);

    /// <summary>kill -9, as a crash or the OOM killer would; the directory stays for the next start.</summary>
    public void Crash()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit(5000);
        _process.Dispose();
    }

    public int ExitCode => _process.ExitCode;

    private static string DotnetHost() =>
        Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
