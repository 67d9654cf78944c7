using Tmds.DBus.Protocol;

namespace Gvtd.Contract;

/// <summary>
/// One row of Manager.Plan: <c>(sssss)</c>, what the next pass would do to one vGPU and why.
/// Kind is create, remove, recreate, keep, blocked or ignore.
/// </summary>
public sealed record PlanRow(string Kind, string Uuid, string Type, string Parent, string Reason)
{
    public const string ArraySignature = "a(sssss)";

    public static void WriteArray(ref MessageWriter writer, IEnumerable<PlanRow> rows) =>
        StructArray.Write(ref writer, rows, static (ref MessageWriter w, PlanRow r) =>
        {
            w.WriteString(r.Kind);
            w.WriteString(r.Uuid);
            w.WriteString(r.Type);
            w.WriteString(r.Parent);
            w.WriteString(r.Reason);
        });

    public static List<PlanRow> ReadArray(ref Reader reader) =>
        StructArray.Read(ref reader, static (ref Reader r) => new PlanRow(r.ReadString(), r.ReadString(), r.ReadString(), r.ReadString(), r.ReadString()));
}
