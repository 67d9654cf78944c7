using System.Globalization;
using Gvtd.Contract;

namespace Gvtctl;

/// <summary>`gvtctl list`, `types` and `plan`: tables for people, JSON for scripts.</summary>
internal static partial class Commands
{
    private static int List(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect();
        var (vgpus, _) = Objects(gvtd);
        var functions = gvtd.ListFunctions();
        if (cl.Json)
        {
            Json.Write(term.Out, w =>
            {
                w.WriteStartArray();
                foreach (var v in vgpus)
                {
                    w.WriteStartObject();
                    w.WriteString("kind", "vgpu");
                    w.WriteString("uuid", v.Uuid);
                    w.StringOrNull("name", v.Name);
                    w.WriteString("type", v.Type);
                    w.WriteString("parent", v.Parent);
                    w.WriteString("state", v.State);
                    w.WriteBoolean("inUse", v.InUse);
                    w.WriteBoolean("declared", v.Declared);
                    w.WriteBoolean("owned", v.Owned);
                    w.StringOrNull("lastError", v.LastError);
                    w.StringOrNull("source", v.Source);
                    w.StringOrNull("sysfsPath", v.SysfsPath);
                    w.WriteString("objectPath", v.Path);
                    w.WriteEndObject();
                }
                foreach (var f in functions) WriteFunctionJson(w, f);
                w.WriteEndArray();
            });
            return ExitCodes.Ok;
        }
        if (vgpus.Count == 0 && functions.Count == 0)
        {
            term.Out.WriteLine("No vGPUs or SR-IOV functions declared or present. Declare some in /etc/gvtd/vgpus.yaml, or: gvtctl add TYPE");
            return ExitCodes.Ok;
        }
        if (vgpus.Count > 0)
        {
            var table = new Table("UUID", "NAME", "TYPE", "PARENT", "STATE", "IN USE");
            foreach (var v in vgpus)
                table.Add(v.Uuid, v.Name.Length > 0 ? v.Name : "-", v.Type, v.Parent, v.State, v.InUse ? "yes" : "no");
            table.Write(term, (col, text) => col == 4 ? term.State(text) : text);
            foreach (var v in vgpus.Where(v => v.LastError.Length > 0))
                term.Out.WriteLine($"{v.Uuid}: {GvtdClient.OneLine(v.LastError)}");
        }
        if (functions.Count > 0)
        {
            if (vgpus.Count > 0) term.Out.WriteLine();
            WriteFunctionTable(term, functions);
        }
        return ExitCodes.Ok;
    }

    private static int Types(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect("[PARENT]");
        var (_, all) = Objects(gvtd);
        var parents = all;
        if (cl.Operands.Count == 1)
        {
            var wanted = Identifiers.TryNormaliseParent(cl.Operands[0], out var p, out _) ? p : cl.Operands[0];
            parents = all.Where(x => x.Name == wanted).ToList();
            if (parents.Count == 0)
                throw new CliException(ExitCodes.Failure, $"no mdev parent {wanted}; {KnownParents(all)}");
        }
        if (cl.Json)
        {
            Json.Write(term.Out, w =>
            {
                w.WriteStartArray();
                foreach (var parent in parents)
                    foreach (var t in parent.Types)
                    {
                        w.WriteStartObject();
                        w.WriteString("parent", parent.Name);
                        w.WriteString("driver", parent.Driver);
                        w.WriteString("type", t.Id);
                        w.StringOrNull("name", t.Name);
                        w.WriteString("deviceApi", t.DeviceApi);
                        w.WriteString("description", t.Description);
                        w.WriteNumber("available", t.Available);
                        if (GvtDescriptionParser.Parse(t.Description) is { } d)
                        {
                            w.WriteStartObject("gvt");
                            w.WriteString("resolution", d.Resolution);
                            w.WriteNumber("lowGmMiB", d.LowGmMiB);
                            w.WriteNumber("highGmMiB", d.HighGmMiB);
                            w.WriteNumber("fence", d.Fence);
                            w.WriteNumber("weight", d.Weight);
                            w.WriteEndObject();
                        }
                        else
                        {
                            w.WriteNull("gvt");
                        }
                        w.WriteEndObject();
                    }
                w.WriteEndArray();
            });
            return ExitCodes.Ok;
        }
        if (parents.Count == 0)
        {
            term.Out.WriteLine("No mdev parents: is the GPU's driver loaded with GVT-g enabled (i915.enable_gvt=1)? gvtctl doctor checks.");
            return ExitCodes.Ok;
        }
        var table = new Table("PARENT", "TYPE", "AVAILABLE", "RESOLUTION", "MEMORY", "DESCRIPTION");
        foreach (var parent in parents)
            foreach (var t in parent.Types)
            {
                var d = GvtDescriptionParser.Parse(t.Description);
                table.Add(parent.Name, t.Id, t.Available.ToString(CultureInfo.InvariantCulture),
                    d is null || d.Resolution.Length == 0 ? "-" : d.Resolution,
                    d is null ? "-" : $"{d.LowGmMiB + d.HighGmMiB} MiB ({d.LowGmMiB}+{d.HighGmMiB})",
                    d is null ? (t.Name.Length > 0 ? t.Name : GvtdClient.OneLine(t.Description)) : $"{t.DeviceApi}, weight {d.Weight}");
            }
        table.Write(term, (col, text) => col == 2 && text == "0" ? term.Paint(text, "33") : text);
        return ExitCodes.Ok;
    }

    private static string KnownParents(List<ParentDevice> parents) =>
        parents.Count == 0 ? "gvtd sees no mdev parent at all (gvtctl doctor)" : "parents: " + string.Join(", ", parents.Select(p => p.Name));

    private static int Plan(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect();
        var actions = gvtd.Plan();
        var functionActions = gvtd.PlanFunctions();
        if (cl.Json)
        {
            Json.Write(term.Out, w =>
            {
                w.WriteStartArray();
                foreach (var a in actions)
                {
                    w.WriteStartObject();
                    w.WriteString("action", a.Kind);
                    w.WriteString("uuid", a.Uuid);
                    w.WriteString("type", a.Type);
                    w.WriteString("parent", a.Parent);
                    w.WriteString("reason", a.Reason);
                    w.WriteEndObject();
                }
                foreach (var a in functionActions)
                {
                    w.WriteStartObject();
                    w.WriteString("action", a.Kind);
                    w.WriteString("pf", a.Address);
                    w.WriteString("reason", a.Reason);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            });
            return ExitCodes.Ok;
        }
        if (actions.Count == 0 && functionActions.Count == 0)
        {
            term.Out.WriteLine("Nothing declared and nothing present: nothing to do.");
            return ExitCodes.Ok;
        }
        if (actions.Count > 0)
        {
            var table = new Table("ACTION", "UUID", "TYPE", "PARENT", "REASON");
            foreach (var a in actions)
                table.Add(a.Kind, a.Uuid, a.Type, a.Parent, GvtdClient.OneLine(a.Reason));
            table.Write(term, (col, text) => col == 0 ? term.State(text) : text);
        }
        if (functionActions.Count > 0)
        {
            if (actions.Count > 0) term.Out.WriteLine();
            // reset: through 0 VFs, as the kernel changes a count only that way.
            var table = new Table("ACTION", "PF", "REASON");
            foreach (var a in functionActions)
                table.Add(a.Kind, a.Address, GvtdClient.OneLine(a.Reason));
            table.Write(term, (col, text) => col == 0 ? term.State(text) : text);
        }
        return ExitCodes.Ok;
    }
}
