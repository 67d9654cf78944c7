using Gvtd.Contract;
using Gvtctl.Doctor;

namespace Gvtctl;

/// <summary>Renders the doctor checks (Gvtctl.Doctor.DoctorChecks) as text or JSON; needs no daemon.</summary>
internal static class DoctorCommand
{
    public static string Label(CheckStatus status) => status switch
    {
        CheckStatus.Ok => "ok",
        CheckStatus.Warning => "warning",
        CheckStatus.Failed => "FAILED",
        _ => "skipped",
    };

    /// <summary>Whether gvtd answers on the bus, and what it says of its state and config; never throws.</summary>
    private static DaemonStatus AskDaemon(CommandLine cl)
    {
        try
        {
            using var client = GvtdClient.Connect(cl.Bus);
            var manager = client.GetAll(BusNames.ManagerPath, BusNames.ManagerInterface, "asking gvtd for its state");
            return new DaemonStatus(true, manager.GetValueOrDefault("State") as string,
                manager.GetValueOrDefault("ConfigError") is string { Length: > 0 } error ? error : null);
        }
        catch (CliException)
        {
            return new DaemonStatus(false, null, null);
        }
    }

    public static int Run(CommandLine cl, Terminal term)
    {
        var env = DoctorEnvironment.Host with
        {
            Roots = HostRoots.Default with { Sys = cl.SysfsRoot ?? HostRoots.Default.Sys, Proc = cl.ProcRoot ?? HostRoots.Default.Proc },
            DaemonStatus = () => AskDaemon(cl),
        };
        var checks = DoctorChecks.Run(env);
        int failed = checks.Count(c => c.Status == CheckStatus.Failed);
        int warnings = checks.Count(c => c.Status == CheckStatus.Warning);
        if (cl.Json)
        {
            Json.Write(term.Out, w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("checks");
                foreach (var c in checks)
                {
                    w.WriteStartObject();
                    w.WriteString("id", c.Id);
                    w.WriteString("title", c.Title);
                    w.WriteString("status", c.Status.ToString().ToLowerInvariant());
                    w.WriteString("detail", c.Detail);
                    w.StringOrNull("fix", c.Fix);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteNumber("failed", failed);
                w.WriteNumber("warnings", warnings);
                w.WriteEndObject();
            });
        }
        else
        {
            foreach (var c in checks)
            {
                var label = Label(c.Status);
                var colour = c.Status switch { CheckStatus.Ok => "32", CheckStatus.Warning => "33", CheckStatus.Failed => "31", _ => "2" };
                var fix = c.Status != CheckStatus.Ok && !string.IsNullOrEmpty(c.Fix) ? $"; fix: {GvtdClient.OneLine(c.Fix)}" : "";
                var detail = c.Detail.Length > 0 ? $": {GvtdClient.OneLine(c.Detail).TrimEnd('.')}" : "";
                term.Out.WriteLine($"{term.Paint(label.PadRight(7), colour)}  {c.Title}{detail}{fix}");
            }
            term.Out.WriteLine(failed > 0 ? $"{failed} check(s) failed, {warnings} warning(s)." : $"Nothing failed ({warnings} warning(s)).");
        }
        return failed > 0 ? ExitCodes.Failure : ExitCodes.Ok;
    }
}
