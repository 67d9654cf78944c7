using static Gvtd.Interop.Libsystemd;

namespace Gvtd.Interop;

/// <summary>
/// Typed appends to an sd_bus_message under construction (sd_bus_message_append_basic + open/close_container).
/// Only valid inside the callback that received it. A failed append means the code built a message that does not
/// match its own signature: that is a bug, so it throws <see cref="InvalidOperationException"/>
/// (inside a handler: logged via BusConnection.UnhandledException, caller gets org.freedesktop.DBus.Error.Failed).
/// </summary>
public sealed unsafe class MessageWriter
{
    private nint _m;
    private int _depth;

    internal MessageWriter(nint m) => _m = m;

    internal void Invalidate() => _m = 0;

    /// <summary>
    /// Lets <paramref name="body"/> write into message <paramref name="m"/>, insists it closed every container it
    /// opened (an open one would send a malformed message), and leaves no writer pointing at m afterwards.
    /// </summary>
    internal static void Fill(nint m, Action<MessageWriter>? body, string what)
    {
        var writer = new MessageWriter(m);
        try
        {
            body?.Invoke(writer);
            if (writer.Depth != 0)
                throw new InvalidOperationException($"{what} left {writer.Depth} container(s) open.");
        }
        finally
        {
            writer.Invalidate();
        }
    }

    /// <summary>Containers opened but not yet closed; the owner checks this is 0 before sending.</summary>
    internal int Depth => _depth;

    private nint M => _m != 0 ? _m : throw new ObjectDisposedException(nameof(MessageWriter), "A MessageWriter is only valid inside the callback that received it.");

    public void Write(string value) => WriteStringLike((byte)'s', value);
    public void WriteObjectPath(string value) => WriteStringLike((byte)'o', value);
    public void WriteSignature(string value) => WriteStringLike((byte)'g', value);

    public void Write(bool value) { int v = value ? 1 : 0; Append((byte)'b', &v); }
    public void Write(byte value) => Append((byte)'y', &value);
    public void Write(short value) => Append((byte)'n', &value);
    public void Write(ushort value) => Append((byte)'q', &value);
    public void Write(int value) => Append((byte)'i', &value);
    public void Write(uint value) => Append((byte)'u', &value);
    public void Write(long value) => Append((byte)'x', &value);
    public void Write(ulong value) => Append((byte)'t', &value);
    public void Write(double value) => Append((byte)'d', &value);

    public void OpenStruct(string contents) => Open('r', contents);
    public void OpenArray(string elementSignature) => Open('a', elementSignature);
    public void OpenDictEntry(string contents) => Open('e', contents);
    public void OpenVariant(string contents) => Open('v', contents);

    /// <summary>Close the innermost open container.</summary>
    public void Close()
    {
        if (_depth == 0)
            throw new InvalidOperationException("MessageWriter.Close without a matching Open.");
        Check(sd_bus_message_close_container(M), "close container");
        _depth--;
    }

    /// <summary>Write an array: opens 'a' with <paramref name="elementSignature"/>, writes each item, closes.</summary>
    public void WriteArray<T>(string elementSignature, IEnumerable<T> items, Action<MessageWriter, T> writeElement)
    {
        OpenArray(elementSignature);
        foreach (var item in items)
            writeElement(this, item);
        Close();
    }

    /// <summary>Write a variant of the given signature whose content <paramref name="write"/> appends.</summary>
    public void WriteVariant(string signature, Action<MessageWriter> write)
    {
        OpenVariant(signature);
        write(this);
        Close();
    }

    /// <summary>Write an a{ss}.</summary>
    public void WriteStringDictionary(IEnumerable<KeyValuePair<string, string>> items)
    {
        OpenArray("{ss}");
        foreach (var (k, v) in items)
        {
            OpenDictEntry("ss");
            Write(k);
            Write(v);
            Close();
        }
        Close();
    }

    private void Open(char type, string contents)
    {
        Check(sd_bus_message_open_container(M, (byte)type, contents), $"open container '{type}' ({contents})");
        _depth++;
    }

    private void WriteStringLike(byte type, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        fixed (byte* p = Utf8Z.Bytes(value))
            Check(sd_bus_message_append_basic(M, type, p), $"append '{(char)type}' \"{value}\"");
    }

    private void Append(byte type, void* p) => Check(sd_bus_message_append_basic(M, type, p), $"append '{(char)type}'");

    private static void Check(int r, string what)
    {
        if (r < 0)
            throw new InvalidOperationException($"D-Bus message construction failed: {what}: {Errnos.Describe(-r)}.");
    }
}
