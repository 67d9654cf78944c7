using Tmds.DBus.Protocol;

namespace Gvtd.Contract;

/// <summary>
/// One entry of a Parent's Types property: <c>(ssssu)</c>, a directory under mdev_supported_types
/// with its name, device_api, description and available_instances as the kernel gives them.
/// </summary>
public sealed record MdevTypeRow(string Id, string Name, string DeviceApi, string Description, uint Available)
{
    public const string ArraySignature = "a(ssssu)";

    public static void WriteArray(ref MessageWriter writer, IEnumerable<MdevTypeRow> rows)
    {
        var array = writer.WriteArrayStart(DBusType.Struct);
        foreach (var row in rows)
        {
            writer.WriteStructureStart();
            writer.WriteString(row.Id);
            writer.WriteString(row.Name);
            writer.WriteString(row.DeviceApi);
            writer.WriteString(row.Description);
            writer.WriteUInt32(row.Available);
        }
        writer.WriteArrayEnd(array);
    }

    public static List<MdevTypeRow> ReadArray(ref Reader reader)
    {
        var rows = new List<MdevTypeRow>();
        var end = reader.ReadArrayStart(DBusType.Struct);
        while (reader.HasNext(end))
        {
            reader.AlignStruct();
            rows.Add(new MdevTypeRow(reader.ReadString(), reader.ReadString(), reader.ReadString(), reader.ReadString(), reader.ReadUInt32()));
        }
        return rows;
    }
}
