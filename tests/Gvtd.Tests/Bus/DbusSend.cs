using System.Diagnostics;
using System.Text.RegularExpressions;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Bus;

/// <summary>
/// dbus-send as a second real client: unlike busctl it prints the D-Bus error name of a failed call
/// ("Error org.gvtd.Gvtd1.Error.NoSuchVGpu: ..."), which is what scripts match on.
/// </summary>
public static partial class DbusSend
{
    public sealed record Reply(int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>The error name of a failed call, or null if it succeeded.</summary>
        public string? ErrorName => ErrorLine().Match(Stderr) is { Success: true } m ? m.Groups[1].Value : null;
        public string ErrorMessage => ErrorLine().Match(Stderr) is { Success: true } m ? m.Groups[2].Value : "";
    }

    public static Reply Call(string address, string path, string interfaceMember, string[] args, bool asNobody = false)
    {
        var argv = new List<string>();
        if (asNobody) argv.AddRange(["--reuid=65534", "--regid=65534", "--clear-groups", "dbus-send"]);
        argv.AddRange([$"--bus={address}", "--print-reply", "--dest=org.gvtd.Gvtd1", path, interfaceMember]);
        argv.AddRange(args);
        var psi = new ProcessStartInfo(asNobody ? "setpriv" : "dbus-send", argv)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(HangGuard.Timeout)) { process.Kill(); throw new TimeoutException($"hang guard: dbus-send did not finish within {HangGuard.Timeout.TotalSeconds} s"); }
        return new Reply(process.ExitCode, stdout.Result, stderr.Result);
    }

    public static Reply Manager(string address, string member, params string[] args) =>
        Call(address, "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager." + member, args);

    [GeneratedRegex(@"^Error ([\w.]+): (.*)$", RegexOptions.Multiline)]
    private static partial Regex ErrorLine();
}

[CollectionDefinition(Name)]
public sealed class SystemBusCollection : ICollectionFixture<SystemBusFixture>
{
    public const string Name = "private system bus";
}
