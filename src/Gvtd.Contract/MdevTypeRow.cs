using Tmds.DBus.Protocol;

namespace Gvtd.Contract;

/// <summary>
/// One entry of a Parent's Types property: <c>(ssssu)</c>, a directory under mdev_supported_types
/// with its name, device_api, description and available_instances as the kernel gives them.
/// </summary>
public sealed record MdevTypeRow(string Id, string Name, string DeviceApi, string Description, uint Available)
{
    public const string ArraySignature = "a(ssssu)";

    public static void WriteArray(ref MessageWriter writer, IEnumerable<MdevTypeRow> rows) =>
        StructArray.Write(ref writer, rows, static (ref MessageWriter w, MdevTypeRow r) =>
        {
            w.WriteString(r.Id);
            w.WriteString(r.Name);
            w.WriteString(r.DeviceApi);
            w.WriteString(r.Description);
            w.WriteUInt32(r.Available);
        });

    public static List<MdevTypeRow> ReadArray(ref Reader reader) =>
        StructArray.Read(ref reader, static (ref Reader r) => new MdevTypeRow(r.ReadString(), r.ReadString(), r.ReadString(), r.ReadString(), r.ReadUInt32()));
}
