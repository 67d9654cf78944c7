using System.Diagnostics;
using System.Text.Json;

namespace Gvtd.Tests.Gvtctl;

/// <summary>One run of the built gvtctl (gvtctl.dll beside the tests), its exit code and output.</summary>
public sealed record GvtctlResult(int ExitCode, string Stdout, string Stderr)
{
    public JsonElement Json()
    {
        Assert.True(ExitCode is 0 or 4, $"gvtctl exited {ExitCode}: {Stderr}");
        return JsonDocument.Parse(Stdout).RootElement;
    }

    public GvtctlResult Ok()
    {
        Assert.True(ExitCode == 0, $"gvtctl exited {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}");
        return this;
    }
}

/// <summary>
/// Runs `dotnet gvtctl.dll ...` as a user would (through the same dotnet host as the tests), with
/// DBUS_SYSTEM_BUS_ADDRESS at the private bus; optionally as uid/gid 65534, or under script(1) for a TTY.
/// </summary>
public static class GvtctlRun
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "gvtctl.dll");

    public static string DotnetHost() =>
        Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";

    public static GvtctlResult Run(string? busAddress, string[] args, bool asNobody = false, IDictionary<string, string?>? env = null)
    {
        var argv = new List<string>();
        string file = DotnetHost();
        if (asNobody)
        {
            argv.AddRange(["--reuid=65534", "--regid=65534", "--clear-groups", file]);
            file = "setpriv";
        }
        argv.Add(Dll);
        argv.AddRange(args);
        var psi = new ProcessStartInfo(file, argv)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment.Remove("NO_COLOR");
        if (busAddress is null) psi.Environment.Remove("DBUS_SYSTEM_BUS_ADDRESS");
        else psi.Environment["DBUS_SYSTEM_BUS_ADDRESS"] = busAddress;
        foreach (var (k, v) in env ?? new Dictionary<string, string?>())
            psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"gvtctl {string.Join(' ', args)} hung");
        }
        p.WaitForExit();
        return new GvtctlResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs gvtctl on a pseudo-terminal through script(1); returns what the terminal got.</summary>
    public static string OnTerminal(string busAddress, string args, bool noColor)
    {
        var command = $"{DotnetHost()} {Dll} {args}";
        var psi = new ProcessStartInfo("script", ["-qfec", command, "/dev/null"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.Environment["DBUS_SYSTEM_BUS_ADDRESS"] = busAddress;
        psi.Environment["TERM"] = "xterm";
        if (noColor) psi.Environment["NO_COLOR"] = "1";
        else psi.Environment.Remove("NO_COLOR");
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("script hung");
        }
        p.WaitForExit();
        return stdout.Result;
    }
}
