using Tmds.DBus.Protocol;

namespace Gvtd.Contract;

/// <summary>
/// One row of Manager.ListFunctions: <c>(ssssbso)</c>, an SR-IOV PF (PhysicalFunction empty) or one
/// of its VFs: address, its PF, driver, state (a PF's: active, pending, blocked, failed, removing,
/// undeclared; a VF's: bound, unbound or other-driver), in use, detail (a PF's "N of M VFs on DRIVER" or its last
/// error), object path.
/// </summary>
public sealed record FunctionRow(string Address, string PhysicalFunction, string Driver, string State, bool InUse, string Detail, string Path)
{
    public const string ArraySignature = "a(ssssbso)";

    public bool IsVf => PhysicalFunction.Length > 0;

    public static void WriteArray(ref MessageWriter writer, IEnumerable<FunctionRow> rows) =>
        StructArray.Write(ref writer, rows, static (ref MessageWriter w, FunctionRow r) =>
        {
            w.WriteString(r.Address);
            w.WriteString(r.PhysicalFunction);
            w.WriteString(r.Driver);
            w.WriteString(r.State);
            w.WriteBool(r.InUse);
            w.WriteString(r.Detail);
            w.WriteObjectPath(r.Path);
        });

    public static List<FunctionRow> ReadArray(ref Reader reader) =>
        StructArray.Read(ref reader, static (ref Reader r) => new FunctionRow(r.ReadString(), r.ReadString(), r.ReadString(), r.ReadString(), r.ReadBool(), r.ReadString(), r.ReadObjectPathAsString()));
}

/// <summary>One row of Manager.PlanFunctions: <c>(sss)</c>, kind (enable, disable, reset, bind, keep, blocked, ignore), PF address, reason.</summary>
public sealed record FunctionPlanRow(string Kind, string Address, string Reason)
{
    public const string ArraySignature = "a(sss)";

    public static void WriteArray(ref MessageWriter writer, IEnumerable<FunctionPlanRow> rows) =>
        StructArray.Write(ref writer, rows, static (ref MessageWriter w, FunctionPlanRow r) =>
        {
            w.WriteString(r.Kind);
            w.WriteString(r.Address);
            w.WriteString(r.Reason);
        });

    public static List<FunctionPlanRow> ReadArray(ref Reader reader) =>
        StructArray.Read(ref reader, static (ref Reader r) => new FunctionPlanRow(r.ReadString(), r.ReadString(), r.ReadString()));
}
