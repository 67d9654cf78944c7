using System.Globalization;
using Gvtd.Contract;

namespace Gvtctl;

/// <summary>`gvtctl status`: the daemon at a glance; exit 0 only when everything declared is active.</summary>
internal static partial class Commands
{
    private static int Status(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect();
        var m = gvtd.GetAll(BusNames.ManagerPath, BusNames.ManagerInterface, "reading gvtd's status");
        var state = Get(m, "State", "");
        var configError = Get(m, "ConfigError", "");
        var files = Get<List<string>>(m, "ConfigFiles", []);
        var awaited = Get<List<string>>(m, "AwaitedParents", []);
        var setAside = Get<List<string>>(m, "SetAside", []);
        string sleep = Get(m, "Sleep", ""), sleepState = Get(m, "SleepState", "");
        var inhibitor = Get(m, "SleepInhibitor", false);
        ulong intervalUs = Get(m, "Interval", 0UL), lastUs = Get(m, "LastReconcile", 0UL);
        uint desired = Get(m, "Desired", 0u), active = Get(m, "Active", 0u), failed = Get(m, "Failed", 0u);
        DateTimeOffset? last = lastUs == 0 ? null : DateTimeOffset.UnixEpoch.AddTicks((long)lastUs * TimeSpan.TicksPerMicrosecond);
        bool allActive = configError.Length == 0 && active == desired && failed == 0 && state != "degraded";
        var pfs = gvtd.ListFunctions().Where(f => !f.IsVf).ToList();

        if (cl.Json)
        {
            Json.Write(term.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("version", Get(m, "Version", ""));
                w.WriteString("state", state);
                w.WriteStartArray("configFiles");
                foreach (var f in files) w.WriteStringValue(f);
                w.WriteEndArray();
                w.StringOrNull("configError", configError);
                w.WriteNumber("intervalSeconds", intervalUs / 1_000_000);
                w.WriteString("prune", Get(m, "Prune", ""));
                if (last is { } l) w.WriteString("lastReconcile", l.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                else w.WriteNull("lastReconcile");
                w.WriteNumber("desired", desired);
                w.WriteNumber("active", active);
                w.WriteNumber("failed", failed);
                w.WriteStartArray("awaitedParents");
                foreach (var p in awaited) w.WriteStringValue(p);
                w.WriteEndArray();
                w.WriteStartObject("sleep");
                w.WriteString("setting", sleep);
                w.WriteString("state", sleepState);
                w.WriteBoolean("inhibitorHeld", inhibitor);
                w.WriteStartArray("setAside");
                foreach (var u in setAside) w.WriteStringValue(u);
                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteStartArray("functions");
                foreach (var f in pfs) WriteFunctionJson(w, f);
                w.WriteEndArray();
                w.WriteBoolean("allActive", allActive);
                w.WriteEndObject();
            });
            return allActive ? ExitCodes.Ok : ExitCodes.NotAllActive;
        }

        var o = term.Out;
        o.WriteLine($"gvtd {Get(m, "Version", "")}: {term.State(state)}");
        o.WriteLine($"  config:     {(files.Count == 0 ? "(none)" : string.Join(", ", files))}");
        if (configError.Length > 0)
            foreach (var line in configError.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                o.WriteLine($"  {term.Paint("error:", "31")}      {line}");
        o.WriteLine($"  last pass:  {(last is { } t ? $"{t.ToLocalTime():yyyy-MM-dd HH:mm:ss} ({Ago(DateTimeOffset.UtcNow - t)})" : "none yet")}");
        o.WriteLine($"  interval:   {Durations.Format(TimeSpan.FromTicks((long)intervalUs * TimeSpan.TicksPerMicrosecond))}, prune {Get(m, "Prune", "")}");
        o.WriteLine($"  vGPUs:      {desired} declared, {active} active, {failed} failed");
        foreach (var f in pfs)
            o.WriteLine($"  SR-IOV:     {f.Address} ({(f.Driver.Length > 0 ? f.Driver : "no driver")}): {term.State(f.State)}, {GvtdClient.OneLine(f.Detail)}");
        o.WriteLine($"  sleep:      {sleep}; {SleepLine(sleepState, inhibitor, setAside)}");
        foreach (var parent in awaited)
            o.WriteLine(pfs.Any(f => f.Address == parent)
                ? $"  waiting:    PF {parent}: no driver bound (its VFs are enabled as soon as it binds)"
                : $"  waiting:    parent {parent}: driver not loaded (its vGPUs are made as soon as it registers)");
        var pfsNotActive = pfs.Count(f => f.State is not ("active" or "undeclared"));
        if (!allActive)
            o.WriteLine(configError.Length > 0
                ? "The config is invalid; the last valid state stays in force. Fix the file, then: gvtctl reload"
                : active < desired || pfsNotActive == 0
                    ? $"{desired - Math.Min(active, desired)} of {desired} declared vGPU(s) not active: gvtctl plan shows why"
                    : $"{pfsNotActive} SR-IOV PF(s) not as declared: gvtctl plan shows why");
        return allActive ? ExitCodes.Ok : ExitCodes.NotAllActive;
    }

    private static string SleepLine(string state, bool inhibitor, List<string> setAside) => state switch
    {
        "unavailable" => "not followed (no systemd-logind on the bus)",
        "awake" => inhibitor ? "awake, holding a sleep delay inhibitor" : "awake",
        _ => $"{state}, {setAside.Count} vGPU(s) or PF(s) set aside" + (setAside.Count > 0 ? $": {string.Join(", ", setAside)}" : ""),
    };

    private static string Ago(TimeSpan t) =>
        t.TotalSeconds < 1 ? "just now"
        : t.TotalMinutes < 1 ? $"{(int)t.TotalSeconds} s ago"
        : t.TotalHours < 1 ? $"{(int)t.TotalMinutes} min ago"
        : t.TotalDays < 1 ? $"{(int)t.TotalHours} h ago"
        : $"{(int)t.TotalDays} days ago";
}
