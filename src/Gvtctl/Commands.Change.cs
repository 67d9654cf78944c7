using Gvtd.Contract;

namespace Gvtctl;

/// <summary>`gvtctl add`, `remove`, `reconcile` and `reload`: the Manager methods that change things.</summary>
internal static partial class Commands
{
    private static int Add(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect("TYPE");
        var type = cl.Operands[0];
        if (Identifiers.CheckType(type) is { } typeError) throw CommandLine.Usage("add: " + typeError);
        string uuid = "";
        if (cl.Uuid is not null)
            uuid = Identifiers.NormaliseUuid(cl.Uuid) ?? throw CommandLine.Usage($"add: '{cl.Uuid}' is not a UUID (uuidgen makes one)");
        string parent;
        if (cl.Parent is not null)
        {
            if (!Identifiers.TryNormaliseParent(cl.Parent, out parent, out var parentError)) throw CommandLine.Usage("add: " + parentError);
        }
        else
        {
            var parents = Objects(gvtd).Parents;
            parent = parents.Count == 1
                ? parents[0].Name
                : throw new CliException(ExitCodes.Usage, parents.Count == 0
                    ? "add: gvtd sees no mdev parent; give --parent, or check the GPU with gvtctl doctor"
                    : $"add: several parents, choose one with --parent: {string.Join(", ", parents.Select(p => p.Name))}");
        }
        var (newUuid, path) = gvtd.AddVGpu(uuid, type, parent, cl.Runtime);
        if (cl.Json)
        {
            Json.Write(term.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("uuid", newUuid);
                w.WriteString("type", type);
                w.WriteString("parent", parent);
                w.WriteBoolean("runtime", cl.Runtime);
                w.WriteString("objectPath", path);
                w.WriteEndObject();
            });
        }
        else
        {
            term.Out.WriteLine(newUuid);
            Std.Err.WriteLine($"Declared {type} on {parent}{(cl.Runtime ? " until reboot" : "")}: gvtctl qemu-args {newUuid}");
        }
        return ExitCodes.Ok;
    }

    private static string RequireUuid(CommandLine cl)
    {
        cl.Expect("UUID");
        return Identifiers.NormaliseUuid(cl.Operands[0])
            ?? throw CommandLine.Usage($"{cl.Command}: '{cl.Operands[0]}' is not a UUID");
    }

    private static int Remove(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        var uuid = RequireUuid(cl);
        gvtd.RemoveVGpu(uuid);
        if (cl.Json)
            Json.Write(term.Out, w => { w.WriteStartObject(); w.WriteString("removed", uuid); w.WriteEndObject(); });
        else
            term.Out.WriteLine($"Removed {uuid} from gvtd's declarations.");
        return ExitCodes.Ok;
    }

    private static int Reconcile(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect();
        var (created, removed, failed) = gvtd.Reconcile();
        if (cl.Json)
            Json.Write(term.Out, w =>
            {
                w.WriteStartObject();
                w.WriteNumber("created", created);
                w.WriteNumber("removed", removed);
                w.WriteNumber("failed", failed);
                w.WriteEndObject();
            });
        else
            term.Out.WriteLine($"Pass done: created {created}, removed {removed}, failed {failed}{(failed > 0 ? " (gvtctl list shows the errors)" : "")}.");
        return ExitCodes.Ok;
    }

    private static int Reload(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect();
        gvtd.Reload();
        if (cl.Json)
            Json.Write(term.Out, w => { w.WriteStartObject(); w.WriteBoolean("reloaded", true); w.WriteEndObject(); });
        else
            term.Out.WriteLine("Reloaded; a pass has run.");
        return ExitCodes.Ok;
    }
}
