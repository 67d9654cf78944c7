using Tmds.DBus.Protocol;

namespace Gvtd.Contract;

/// <summary>
/// One row of Manager.Plan: <c>(sssss)</c>, what the next pass would do to one vGPU and why.
/// Kind is create, remove, recreate, keep, blocked or ignore.
/// </summary>
public sealed record PlanRow(string Kind, string Uuid, string Type, string Parent, string Reason)
{
    public const string ArraySignature = "a(sssss)";

    public static void WriteArray(ref MessageWriter writer, IEnumerable<PlanRow> rows)
    {
        var array = writer.WriteArrayStart(DBusType.Struct);
        foreach (var row in rows)
        {
            writer.WriteStructureStart();
            writer.WriteString(row.Kind);
            writer.WriteString(row.Uuid);
            writer.WriteString(row.Type);
            writer.WriteString(row.Parent);
            writer.WriteString(row.Reason);
        }
        writer.WriteArrayEnd(array);
    }

    public static List<PlanRow> ReadArray(ref Reader reader)
    {
        var rows = new List<PlanRow>();
        var end = reader.ReadArrayStart(DBusType.Struct);
        while (reader.HasNext(end))
        {
            reader.AlignStruct();
            rows.Add(new PlanRow(reader.ReadString(), reader.ReadString(), reader.ReadString(), reader.ReadString(), reader.ReadString()));
        }
        return rows;
    }
}
