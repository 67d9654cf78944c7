using Tmds.DBus.Protocol;

namespace Gvtd.Contract;

/// <summary>Writes one struct's fields (the struct's alignment is already done).</summary>
public delegate void StructWriter<in T>(ref MessageWriter writer, T row);

/// <summary>Reads one struct's fields (the struct's alignment is already done).</summary>
public delegate T StructReader<out T>(ref Reader reader);

/// <summary>The framing every wire record shares: an array of structs, <c>a(...)</c>.</summary>
public static class StructArray
{
    public static void Write<T>(ref MessageWriter writer, IEnumerable<T> rows, StructWriter<T> fields)
    {
        var array = writer.WriteArrayStart(DBusType.Struct);
        foreach (var row in rows)
        {
            writer.WriteStructureStart();
            fields(ref writer, row);
        }
        writer.WriteArrayEnd(array);
    }

    public static List<T> Read<T>(ref Reader reader, StructReader<T> fields)
    {
        var rows = new List<T>();
        var end = reader.ReadArrayStart(DBusType.Struct);
        while (reader.HasNext(end))
        {
            reader.AlignStruct();
            rows.Add(fields(ref reader));
        }
        return rows;
    }
}
