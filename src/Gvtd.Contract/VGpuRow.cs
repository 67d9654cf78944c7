using Tmds.DBus.Protocol;

namespace Gvtd.Contract;

/// <summary>One row of Manager.ListVGpus: <c>(ssssso)</c>, every declared or present vGPU.</summary>
public sealed record VGpuRow(string Uuid, string Type, string Parent, string State, string Name, string Path)
{
    public const string ArraySignature = "a(ssssso)";

    public static void WriteArray(ref MessageWriter writer, IEnumerable<VGpuRow> rows)
    {
        var array = writer.WriteArrayStart(DBusType.Struct);
        foreach (var row in rows)
        {
            writer.WriteStructureStart();
            writer.WriteString(row.Uuid);
            writer.WriteString(row.Type);
            writer.WriteString(row.Parent);
            writer.WriteString(row.State);
            writer.WriteString(row.Name);
            writer.WriteObjectPath(row.Path);
        }
        writer.WriteArrayEnd(array);
    }

    public static List<VGpuRow> ReadArray(ref Reader reader)
    {
        var rows = new List<VGpuRow>();
        var end = reader.ReadArrayStart(DBusType.Struct);
        while (reader.HasNext(end))
        {
            reader.AlignStruct();
            rows.Add(new VGpuRow(reader.ReadString(), reader.ReadString(), reader.ReadString(), reader.ReadString(),
                reader.ReadString(), reader.ReadObjectPathAsString()));
        }
        return rows;
    }
}
