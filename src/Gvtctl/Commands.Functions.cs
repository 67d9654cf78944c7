using System.Text.Json;
using Gvtd.Contract;

namespace Gvtctl;

/// <summary>SR-IOV physical and virtual functions in `gvtctl list`, `status`, `plan`, `qemu-args` and `libvirt-xml`.</summary>
internal static partial class Commands
{
    /// <summary>PFs with their VFs below each, as people read them.</summary>
    private static void WriteFunctionTable(Terminal term, List<FunctionRow> rows)
    {
        var table = new Table("FUNCTION", "DRIVER", "STATE", "IN USE", "DETAIL");
        foreach (var r in rows)
            table.Add(r.IsVf ? "  " + r.Address : r.Address, r.Driver.Length > 0 ? r.Driver : "-", r.State, r.InUse ? "yes" : "no",
                r.IsVf ? r.Detail : GvtdClient.OneLine(r.Detail));
        table.Write(term, (col, text) => col == 2 ? term.State(text) : text);
    }

    private static void WriteFunctionJson(Utf8JsonWriter w, FunctionRow r)
    {
        w.WriteStartObject();
        w.WriteString("kind", r.IsVf ? "vf" : "pf");
        w.WriteString("address", r.Address);
        w.StringOrNull("physicalFunction", r.PhysicalFunction);
        w.StringOrNull("driver", r.Driver);
        w.WriteString("state", r.State);
        w.WriteBoolean("inUse", r.InUse);
        w.StringOrNull(r.IsVf ? "qemuArgs" : "detail", r.Detail);
        w.WriteString("objectPath", r.Path);
        w.WriteEndObject();
    }

    /// <summary>qemu-args and libvirt-xml take a vGPU's UUID or a VF's PCI address; the PCI address normalised, or null for a UUID.</summary>
    private static string? RequireDevice(CommandLine cl)
    {
        cl.Expect("UUID|VF");
        var operand = cl.Operands[0];
        if (Identifiers.NormaliseUuid(operand) is not null) return null;
        if (!operand.Contains(':') || !Identifiers.TryNormaliseParent(operand, out var address, out _))
            throw CommandLine.Usage($"{cl.Command}: {UserText.Quote(operand)} is neither a vGPU's UUID nor a VF's PCI address (such as 0000:00:02.1)");
        return address;
    }

    private static FunctionRow? FindVf(CommandLine cl, GvtdClient gvtd)
    {
        if (RequireDevice(cl) is not { } address) return null;
        var rows = gvtd.ListFunctions();
        return rows.FirstOrDefault(r => r.IsVf && r.Address == address)
            ?? throw new CliException(ExitCodes.Failure, rows.Any(r => r.Address == address)
                ? $"{address} is a physical function; a VM takes one of its VFs ({string.Join(", ", rows.Where(r => r.PhysicalFunction == address).Select(r => r.Address))})"
                : $"gvtd knows no VF {address} (gvtctl list shows them)");
    }
}
