using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace Gvtd.Tests.Support;

/// <summary>Outcome of one busctl run.</summary>
public sealed record BusctlResult(IReadOnlyList<string> Command, int ExitCode, string Stdout, string Stderr)
{
    public bool Success => ExitCode == 0;

    /// <summary>Throw with the full command and output unless busctl exited 0.</summary>
    public BusctlResult EnsureSuccess()
    {
        if (ExitCode != 0)
            throw new InvalidOperationException($"`{string.Join(' ', Command)}` exited {ExitCode}.\nstdout: {Stdout}\nstderr: {Stderr}");
        return this;
    }

    /// <summary>Parse stdout of a --json=short run (one JSON document).</summary>
    public JsonDocument Json() => Busctl.ParseJson(Stdout);
}

/// <summary>
/// Runs `busctl --address=ADDR ...` (optionally with --json=short, optionally as uid/gid 65534 through
/// `setpriv --reuid=65534 --regid=65534 --clear-groups`), with a timeout, capturing exit code/stdout/stderr.
/// </summary>
public static class Busctl
{
    public const int NobodyUid = 65534;

    /// <summary>A hang guard, not a verdict on speed: busctl gives up on a call by itself after 25 s.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Run busctl to completion. Throws TimeoutException (after killing it) if it runs too long.</summary>
    public static BusctlResult Run(string address, IEnumerable<string> args, bool json = false, bool asNobody = false, TimeSpan? timeout = null)
    {
        var psi = StartInfo(address, args, json, asNobody);
        var command = new[] { psi.FileName }.Concat(psi.ArgumentList).ToArray();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {psi.FileName}.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? DefaultTimeout))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit(5000);
            throw new TimeoutException($"hang guard: `{string.Join(' ', command)}` did not finish within {(timeout ?? DefaultTimeout).TotalSeconds}s.\nstdout: {Result(stdout)}\nstderr: {Result(stderr)}");
        }
        p.WaitForExit(); // drain redirected streams
        return new BusctlResult(command, p.ExitCode, stdout.Result, stderr.Result);
    }

    public static BusctlResult Run(string address, params string[] args) => Run(address, args, json: false);

    /// <summary>Shortcut: --json=short run that must succeed; returns the parsed document.</summary>
    public static JsonDocument Json(string address, params string[] args) => Run(address, args, json: true).EnsureSuccess().Json();

    /// <summary>Start a long-running busctl (monitor, wait, ...) whose output lines are collected until Dispose.</summary>
    public static BusctlProcess Start(string address, IEnumerable<string> args, bool json = false, bool asNobody = false) =>
        new(StartInfo(address, args, json, asNobody));

    /// <summary>Parse busctl --json=short output (one document).</summary>
    public static JsonDocument ParseJson(string stdout)
    {
        try
        {
            return JsonDocument.Parse(stdout);
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"busctl output is not JSON: {stdout}", e);
        }
    }

    /// <summary>Parse output of streaming commands (monitor --json=short): one JSON document per non-empty line.</summary>
    public static IEnumerable<JsonDocument> ParseJsonLines(IEnumerable<string> lines) =>
        lines.Where(l => l.TrimStart().StartsWith('{')).Select(ParseJson);

    private static ProcessStartInfo StartInfo(string address, IEnumerable<string> args, bool json, bool asNobody)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        var psi = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (asNobody)
        {
            psi.FileName = "setpriv";
            psi.ArgumentList.Add($"--reuid={NobodyUid}");
            psi.ArgumentList.Add($"--regid={NobodyUid}");
            psi.ArgumentList.Add("--clear-groups");
            psi.ArgumentList.Add("busctl");
        }
        else
        {
            psi.FileName = "busctl";
        }
        psi.ArgumentList.Add($"--address={address}");
        psi.ArgumentList.Add("--no-pager");
        if (json)
            psi.ArgumentList.Add("--json=short");
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        psi.Environment["SYSTEMD_COLORS"] = "0";
        psi.Environment["SYSTEMD_PAGER"] = "cat";
        return psi;
    }

    private static string Result(Task<string> t) => t.Wait(TimeSpan.FromSeconds(2)) ? t.Result : "(unavailable)";
}

/// <summary>A running busctl (e.g. `monitor`): collects stdout/stderr lines; Dispose kills it.</summary>
public sealed class BusctlProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _stdout = new();
    private readonly ConcurrentQueue<string> _allStdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly ManualResetEventSlim _stderrLine = new();

    internal BusctlProcess(ProcessStartInfo psi)
    {
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            _allStdout.Enqueue(e.Data);
            if (!_stdout.IsAddingCompleted)
                _stdout.Add(e.Data);
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            _stderr.Enqueue(e.Data);
            _stderrLine.Set();
        };
        if (!_process.Start())
            throw new InvalidOperationException($"Could not start {psi.FileName}.");
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public IReadOnlyCollection<string> StdoutLines => _allStdout.ToArray();
    public IReadOnlyCollection<string> StderrLines => _stderr.ToArray();
    public bool HasExited => _process.HasExited;

    /// <summary>Wait until stderr has a line containing <paramref name="text"/> (busctl monitor says "Monitoring bus message stream.").</summary>
    public bool WaitForStderr(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_stderr.Any(l => l.Contains(text, StringComparison.Ordinal)))
                return true;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || _process.HasExited)
                return _stderr.Any(l => l.Contains(text, StringComparison.Ordinal));
            _stderrLine.Reset();
            if (_stderr.Any(l => l.Contains(text, StringComparison.Ordinal)))
                return true;
            _stderrLine.Wait(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>Next stdout line matching <paramref name="predicate"/>, or null on timeout.</summary>
    public string? WaitForLine(Func<string, bool> predicate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                return null;
            if (_stdout.TryTake(out var line, left) && predicate(line))
                return line;
        }
    }

    /// <summary>Next monitor --json=short message whose JSON satisfies <paramref name="predicate"/>, or null on timeout.</summary>
    public JsonDocument? WaitForJson(Func<JsonElement, bool> predicate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                return null;
            string? line = WaitForLine(l => l.TrimStart().StartsWith('{'), left);
            if (line is null)
                return null;
            var doc = Busctl.ParseJson(line);
            if (predicate(doc.RootElement))
                return doc;
            doc.Dispose();
        }
    }

    /// <summary>
    /// Waits until every predicate has matched some message, in whatever order they come; returns the
    /// predicates that never matched (empty on success).
    /// </summary>
    public IReadOnlyList<string> WaitForAll(TimeSpan timeout, params (string Name, Func<JsonElement, bool> Match)[] wanted)
    {
        var missing = wanted.ToList();
        var deadline = DateTime.UtcNow + timeout;
        while (missing.Count > 0 && DateTime.UtcNow < deadline)
        {
            using var doc = WaitForJson(m => missing.Any(w => w.Match(m)), deadline - DateTime.UtcNow);
            if (doc is null) break;
            missing.RemoveAll(w => w.Match(doc.RootElement));
        }
        return missing.Select(w => w.Name).ToList();
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _stdout.CompleteAdding();
        _process.Dispose();
        _stderrLine.Dispose();
    }
}
