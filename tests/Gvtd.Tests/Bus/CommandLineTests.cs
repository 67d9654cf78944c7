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

    [Fact]
    public void CheckConfig_AValidFile_SaysHowManyVGpusAndTouchesNothing()
    {
        var dir = Directory.CreateTempSubdirectory("gvtd-check-").FullName;
        try
        {
            var file = Path.Combine(dir, "vgpus.yaml");
            File.WriteAllText(file, Yaml.Of((Yaml.A, "i915-GVTg_V5_4"), (Yaml.B, "i915-GVTg_V5_8")));
            Directory.CreateDirectory(Path.Combine(dir, "vgpus.d"));
            File.WriteAllText(Path.Combine(dir, "vgpus.d", "more.yaml"), "vgpus: []\n");
            var before = Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order().ToList();

            var (code, stdout, stderr) = Run("--check-config", file, "--runtime-dir", Path.Combine(dir, "run"));

            Assert.Equal(0, code);
            Assert.Equal($"gvtd: {file} is valid: 2 vGPU(s) declared in 2 file(s)", stdout.Trim());
            Assert.Equal("", stderr);
            Assert.Equal(before, Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order().ToList());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CheckConfig_AnInvalidFile_PrintsEveryErrorWithItsPlace_AndExitsOne()
    {
        var dir = Directory.CreateTempSubdirectory("gvtd-check-").FullName;
        try
        {
            var file = Path.Combine(dir, "vgpus.yaml");
            File.WriteAllText(file, "settings:\n  sleep: sometimes\nvgpus:\n  - uuid: nope\n    type: x\n    parent: \"0000:00:02.0\"\n");

            var (code, stdout, stderr) = Run("--check-config", file, "--runtime-dir", Path.Combine(dir, "run"));

            Assert.Equal(1, code);
            Assert.Equal("", stdout);
            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains($"{file}:2:10: sleep: 'sometimes' is not one of remove-idle, keep", lines);
            Assert.Contains(lines, l => l.StartsWith($"{file}:4:11: uuid: 'nope' is not a UUID"));
            Assert.Equal($"gvtd: {file}: 2 error(s); the daemon would keep its last valid state", lines[^1]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CheckConfig_WithASysfsTree_WarnsAboutParentsAndTypesThatAreNotThere_ButStillPasses()
    {
        var dir = Directory.CreateTempSubdirectory("gvtd-check-").FullName;
        try
        {
            Gvtd.Simulation.SimulatedMdevCore.Open(Path.Combine(dir, "sys"));
            var file = Path.Combine(dir, "vgpus.yaml");
            File.WriteAllText(file, "vgpus:\n"
                + $"  - uuid: {Yaml.A}\n    type: i915-GVTg_V5_4\n    parent: \"0000:00:02.0\"\n"
                + $"  - uuid: {Yaml.B}\n    type: i915-GVTg_V9_9\n    parent: \"0000:00:02.0\"\n"
                + "  - uuid: 11111111-2222-3333-4444-555555555503\n    type: nvidia-63\n    parent: \"0000:01:00.0\"\n");

            var (code, stdout, stderr) = Run("--check-config", file, "--sysfs-root", Path.Combine(dir, "sys"), "--runtime-dir", Path.Combine(dir, "run"));

            Assert.Equal(0, code);
            Assert.Contains("is valid: 3 vGPU(s)", stdout);
            var warnings = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2, warnings.Length);
            Assert.Contains(warnings, w => w.StartsWith($"warning: {file}:5:5: parent 0000:00:02.0 has no type 'i915-GVTg_V9_9' (available: i915-GVTg_V5_1"));
            Assert.Contains(warnings, w => w.StartsWith($"warning: {file}:8:5: parent '0000:01:00.0' is not in"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CheckConfig_WithASysfsTree_WarnsAboutSriovPfsThatAreNotThereOrOfferFewerVfs()
    {
        var dir = Directory.CreateTempSubdirectory("gvtd-check-").FullName;
        try
        {
            Gvtd.Simulation.SimulatedMdevCore.Open(Path.Combine(dir, "sys"), Gvtd.Simulation.SimulatedGpu.Gen12);
            var file = Path.Combine(dir, "vgpus.yaml");
            File.WriteAllText(file, "sriov:\n  - pf: \"0000:00:02.0\"\n    vfs: 9\n  - pf: \"0000:4d:00.0\"\n    vfs: 2\n");

            var (code, stdout, stderr) = Run("--check-config", file, "--sysfs-root", Path.Combine(dir, "sys"), "--runtime-dir", Path.Combine(dir, "run"));

            Assert.Equal(0, code);
            Assert.Equal($"gvtd: {file} is valid: 0 vGPU(s) and 2 SR-IOV PF(s) declared in 1 file(s)", stdout.Trim());
            Assert.Equal([$"warning: {file}:2:5: pf 0000:00:02.0 offers 7 VFs, 9 declared", $"warning: {file}:4:5: pf 0000:4d:00.0 is not in {Path.Combine(dir, "sys")} (no such PCI device)"],
                stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
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
        Assert.True(process.WaitForExit(HangGuard.Timeout), $"hang guard: gvtd did not exit within {HangGuard.Timeout.TotalSeconds} s");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
