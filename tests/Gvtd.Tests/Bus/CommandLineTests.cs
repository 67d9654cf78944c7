using System.Diagnostics;

namespace Gvtd.Tests.Bus;

/// <summary>The gvtd command line as a person meets it: help, version, one-line errors, exit codes.</summary>
public sealed class CommandLineTests
{
    [Fact]
    public void Help_ListsEveryOptionAndExitsZero()
    {
        var (code, stdout, _) = Run("--help");

        Assert.Equal(0, code);
        foreach (var option in new[] { "--config", "--state-dir", "--runtime-dir", "--sysfs-root", "--bus", "--simulate", "--help", "--version" })
            Assert.Contains(option, stdout);
    }

    [Fact]
    public void Version_PrintsTheVersion()
    {
        var (code, stdout, _) = Run("--version");

        Assert.Equal(0, code);
        Assert.Equal($"gvtd {Gvtd.Program.Version}", stdout.Trim());
    }

    [Theory]
    [InlineData("--frobnicate", "unknown option '--frobnicate'")]
    [InlineData("--bus=carrier-pigeon", "--bus takes system, user or none")]
    [InlineData("--config", "option '--config' needs a value")]
    public void BadArguments_GiveOneLineErrorAndExitTwo(string argument, string message)
    {
        var (code, stdout, stderr) = Run(argument);

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"gvtd: {message}", line);
    }

    [Fact]
    public void SimulateInAForeignDirectory_RefusesInOneLineWithoutAStackTrace()
    {
        var dir = Directory.CreateTempSubdirectory("gvtd-foreign-").FullName;
        File.WriteAllText(Path.Combine(dir, "precious"), "not a sysfs tree");
        try
        {
            var (code, stdout, stderr) = Run("--simulate", "--bus", "none", "--sysfs-root", dir, "--state-dir", Path.Combine(dir, "s"), "--runtime-dir", Path.Combine(dir, "r"));

            Assert.Equal(1, code);
            Assert.Contains("is not empty and was not made by gvtd's simulator", stdout + stderr);
            Assert.DoesNotContain("   at ", stdout + stderr);
            Assert.Equal("not a sysfs tree", File.ReadAllText(Path.Combine(dir, "precious")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "gvtd.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "gvtd did not exit");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
