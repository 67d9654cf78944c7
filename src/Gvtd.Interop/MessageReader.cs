using static Gvtd.Interop.Libsystemd;

namespace Gvtd.Interop;

/// <summary>
/// Typed, sequential reads from an sd_bus_message (sd_bus_message_read_basic + container enter/exit).
/// A reader never owns the message: it is valid only while its owner keeps the message alive
/// (a <see cref="MethodCall"/> until it is replied to or disposed; a <see cref="MethodReply"/> only inside onReply),
/// and only on the bus thread. Using it afterwards throws <see cref="ObjectDisposedException"/>.
/// Read failures (wrong type, ran past the end) throw <see cref="BusException"/> with
/// <see cref="BusErrors.InvalidArgs"/>: inside a method handler that becomes the caller's error reply.
/// </summary>
public sealed unsafe class MessageReader
{
    private nint _m;
    private readonly BusConnection _owner;

    internal MessageReader(nint m, BusConnection owner)
    {
        _m = m;
        _owner = owner;
    }

    internal void Invalidate() => _m = 0;

    private nint M
    {
        get
        {
            if (_m == 0)
                throw new ObjectDisposedException(nameof(MessageReader), "The message behind this reader has been released (replied to, disposed, or outside the reply callback).");
            _owner.CheckBusThread();
            return _m;
        }
    }

    /// <summary>Full signature of the message body.</summary>
    public string Signature => Utf8Z.Read(sd_bus_message_get_signature(M, 1)) ?? "";

    public string ReadString() => ReadStringLike((byte)'s');
    public string ReadObjectPath() => ReadStringLike((byte)'o');
    public string ReadSignature() => ReadStringLike((byte)'g');

    public bool ReadBool() { int v; Read((byte)'b', &v); return v != 0; }
    public byte ReadByte() { byte v; Read((byte)'y', &v); return v; }
    public short ReadInt16() { short v; Read((byte)'n', &v); return v; }
    public ushort ReadUInt16() { ushort v; Read((byte)'q', &v); return v; }
    public int ReadInt32() { int v; Read((byte)'i', &v); return v; }
    public uint ReadUInt32() { uint v; Read((byte)'u', &v); return v; }
    public long ReadInt64() { long v; Read((byte)'x', &v); return v; }
    public ulong ReadUInt64() { ulong v; Read((byte)'t', &v); return v; }
    public double ReadDouble() { double v; Read((byte)'d', &v); return v; }

    /// <summary>
    /// Enter a container: type is 'a' (contents = element signature), 'r' (struct contents, e.g. "sa{sv}"),
    /// 'e' (dict entry, e.g. "sv") or 'v' (contents = the variant's signature, or null to accept any).
    /// Returns false when the enclosing container is at its end (the idiom for iterating arrays of structs/entries).
    /// </summary>
    public bool EnterContainer(char type, string? contents)
    {
        int r = sd_bus_message_enter_container(M, (byte)type, contents);
        if (r < 0)
            throw Invalid($"expected container '{type}' with contents '{contents}'", r);
        return r > 0;
    }

    public void ExitContainer()
    {
        int r = sd_bus_message_exit_container(M);
        if (r < 0)
            throw Invalid("could not leave container", r);
    }

    /// <summary>True when the current container (or, with <paramref name="complete"/>, the whole message) is exhausted.</summary>
    public bool AtEnd(bool complete = false)
    {
        int r = sd_bus_message_at_end(M, complete ? 1 : 0);
        if (r < 0)
            throw Invalid("at_end", r);
        return r > 0;
    }

    /// <summary>Type of the next element ('s', 'a', 'v', ...) and, for containers, its contents signature. False at the end.</summary>
    public bool PeekType(out char type, out string? contents)
    {
        byte t;
        byte* c;
        int r = sd_bus_message_peek_type(M, &t, &c);
        if (r < 0)
            throw Invalid("peek", r);
        type = (char)t;
        contents = Utf8Z.Read(c);
        return r > 0;
    }

    /// <summary>Skip the next elements of the given signature (e.g. "v" to ignore an unknown variant).</summary>
    public void Skip(string types)
    {
        int r = sd_bus_message_skip(M, types);
        if (r < 0)
            throw Invalid($"could not skip '{types}'", r);
    }

    /// <summary>Read a whole array: enters 'a' with <paramref name="elementSignature"/>, reads until the end, exits.</summary>
    public List<T> ReadArray<T>(string elementSignature, Func<MessageReader, T> readElement)
    {
        var list = new List<T>();
        EnterContainer('a', elementSignature);
        while (!AtEnd())
            list.Add(readElement(this));
        ExitContainer();
        return list;
    }

    /// <summary>Read an a{ss}.</summary>
    public Dictionary<string, string> ReadStringDictionary()
    {
        var dict = new Dictionary<string, string>(StringComparer.Ordinal);
        EnterContainer('a', "{ss}");
        while (EnterContainer('e', "ss"))
        {
            string k = ReadString();
            dict[k] = ReadString();
            ExitContainer();
        }
        ExitContainer();
        return dict;
    }

    private string ReadStringLike(byte type)
    {
        nint p;
        Read(type, &p);
        return Utf8Z.Read(p) ?? "";
    }

    private void Read(byte type, void* p)
    {
        int r = sd_bus_message_read_basic(M, type, p);
        if (r < 0)
            throw Invalid($"expected '{(char)type}'", r);
        if (r == 0)
            throw new BusException(BusErrors.InvalidArgs, $"Invalid arguments: expected '{(char)type}' but reached the end of the container.");
    }

    private static BusException Invalid(string what, int r) =>
        new(BusErrors.InvalidArgs, $"Invalid arguments: {what} ({Errnos.Describe(-r)}).");
}
