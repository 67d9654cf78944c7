using Tmds.DBus.Protocol;

namespace Gvtd.Contract;

/// <summary>One row of Manager.ListVGpus: <c>(ssssso)</c>, every declared or present vGPU.</summary>
public sealed record VGpuRow(string Uuid, string Type, string Parent, string State, string Name, string Path)
{
    public const string ArraySignature = "a(ssssso)";

    public static void WriteArray(ref MessageWriter writer, IEnumerable<VGpuRow> rows) =>
        StructArray.Write(ref writer, rows, static (ref MessageWriter w, VGpuRow r) =>
        {
            w.WriteString(r.Uuid);
            w.WriteString(r.Type);
            w.WriteString(r.Parent);
            w.WriteString(r.State);
            w.WriteString(r.Name);
            w.WriteObjectPath(r.Path);
        });

    public static List<VGpuRow> ReadArray(ref Reader reader) =>
        StructArray.Read(ref reader, static (ref Reader r) => new VGpuRow(r.ReadString(), r.ReadString(), r.ReadString(), r.ReadString(), r.ReadString(), r.ReadObjectPathAsString()));
}
