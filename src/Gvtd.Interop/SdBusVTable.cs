using System.Runtime.InteropServices;
using static Gvtd.Interop.Libsystemd;

namespace Gvtd.Interop;

/// <summary>
/// An sd_bus_vtable[] built in unmanaged memory from a <see cref="BusInterface"/>.
/// Layout (sd-bus-vtable.h, x86-64): 56-byte entries = 7 machine words.
///   word 0: uint8 type | uint56 flags (bit-field, so type in the low byte).
///   START '&lt;': element_size(56), features(_SD_BUS_VTABLE_PARAM_NAMES), &amp;sd_bus_object_vtable_format
///   METHOD 'M': member, signature, result, handler, offset, names
///   PROPERTY 'P': member, signature, get, set, offset
///   SIGNAL 'S': member, signature, names
///   END '&gt;': zero
/// "names" is ONE list of NUL-terminated names consumed one per complete type, in-args then out-args
/// (bus-introspect.c introspect_write_arguments), ending with the string's own NUL.
/// sd-bus keeps pointers into this memory (and reads it again when slots are released), so it is freed only
/// after every slot that references it is unref'ed.
/// </summary>
internal sealed unsafe class NativeVTable : IDisposable
{
    private const int EntryWords = 7;
    private const int EntrySize = EntryWords * 8;

    private static nint s_vtableFormat;

    private readonly List<nint> _allocations = [];

    public nint Pointer { get; private set; }

    /// <summary>Address of the exported data symbol sd_bus_object_vtable_format (the ABI version tag sd-bus checks).</summary>
    private static nint VTableFormat
    {
        get
        {
            if (s_vtableFormat == 0)
            {
                nint lib = NativeLibrary.Load("libsystemd.so.0");
                s_vtableFormat = NativeLibrary.GetExport(lib, "sd_bus_object_vtable_format");
            }
            return s_vtableFormat;
        }
    }

    public static NativeVTable Build(BusInterface iface)
    {
        var vt = new NativeVTable();
        try
        {
            int entries = 2 + iface.Methods.Count + iface.Properties.Count + iface.Signals.Count;
            ulong* p = (ulong*)NativeMemory.AllocZeroed((nuint)(entries * EntrySize));
            vt.Pointer = (nint)p;

            ulong* e = p;
            e[0] = '<';
            e[1] = EntrySize;
            e[2] = 1; // _SD_BUS_VTABLE_PARAM_NAMES
            e[3] = (ulong)VTableFormat;
            e += EntryWords;

            nint methodHandler = (nint)(delegate* unmanaged<nint, nint, nint, int>)&SdBusTrampolines.OnMethod;
            foreach (var m in iface.Methods)
            {
                e[0] = 'M' | (VTABLE_UNPRIVILEGED << 8);
                e[1] = (ulong)vt.Str(m.Member);
                e[2] = (ulong)vt.Str(m.InSignature);
                e[3] = (ulong)vt.Str(m.OutSignature);
                e[4] = (ulong)methodHandler;
                e[5] = 0;
                e[6] = (ulong)vt.Names(m.InNames.Concat(m.OutNames));
                e += EntryWords;
            }

            nint getter = (nint)(delegate* unmanaged<nint, byte*, byte*, byte*, nint, nint, nint, int>)&SdBusTrampolines.OnGetProperty;
            foreach (var prop in iface.Properties)
            {
                ulong flags = 0;
                if (prop.Flags.HasFlag(PropertyFlags.Const)) flags |= VTABLE_PROPERTY_CONST;
                if (prop.Flags.HasFlag(PropertyFlags.EmitsChange)) flags |= VTABLE_PROPERTY_EMITS_CHANGE;
                e[0] = 'P' | (flags << 8);
                e[1] = (ulong)vt.Str(prop.Member);
                e[2] = (ulong)vt.Str(prop.Signature);
                e[3] = (ulong)getter;
                e[4] = 0;
                e[5] = 0;
                e += EntryWords;
            }

            foreach (var s in iface.Signals)
            {
                e[0] = 'S';
                e[1] = (ulong)vt.Str(s.Member);
                e[2] = (ulong)vt.Str(s.Signature);
                e[3] = (ulong)vt.Names(s.Names);
                e += EntryWords;
            }

            e[0] = '>';
            return vt;
        }
        catch
        {
            vt.Dispose();
            throw;
        }
    }

    private nint Str(string s) => Names([s]);

    /// <summary>Each name NUL-terminated, plus the final terminator (an empty list is just "\0").</summary>
    private nint Names(IEnumerable<string> names)
    {
        var bytes = new List<byte>();
        foreach (var n in names)
        {
            bytes.AddRange(Utf8Z.Bytes(n));
        }
        bytes.Add(0);
        byte* mem = (byte*)NativeMemory.Alloc((nuint)bytes.Count);
        _allocations.Add((nint)mem);
        for (int i = 0; i < bytes.Count; i++)
            mem[i] = bytes[i];
        return (nint)mem;
    }

    public void Dispose()
    {
        foreach (var a in _allocations)
            NativeMemory.Free((void*)a);
        _allocations.Clear();
        if (Pointer != 0)
        {
            NativeMemory.Free((void*)Pointer);
            Pointer = 0;
        }
    }
}

/// <summary>
/// One exported object or fallback: the managed state sd-bus reaches through its userdata pointer (a GCHandle),
/// the native vtable, and the slots that reference both.
/// </summary>
internal sealed class Registration
{
    private GCHandle _handle;

    public Registration(BusConnection connection, BusInterface iface, Func<string, bool>? exists, Func<IEnumerable<string>>? enumerate)
    {
        Connection = connection;
        Interface = iface;
        Exists = exists;
        Enumerate = enumerate;
        VTable = NativeVTable.Build(iface);
        _handle = GCHandle.Alloc(this);
    }

    public BusConnection Connection { get; }
    public BusInterface Interface { get; }
    public Func<string, bool>? Exists { get; }
    public Func<IEnumerable<string>>? Enumerate { get; }
    public NativeVTable VTable { get; }
    public List<nint> Slots { get; } = [];
    public nint UserData => GCHandle.ToIntPtr(_handle);

    public static Registration FromUserData(nint userdata) => (Registration)GCHandle.FromIntPtr(userdata).Target!;

    /// <summary>Unref the slots first: slot disconnection re-reads the vtable.</summary>
    public void ReleaseSlots()
    {
        foreach (var s in Slots)
            sd_bus_slot_unref(s);
        Slots.Clear();
    }

    /// <summary>Only after <see cref="ReleaseSlots"/>.</summary>
    public void Free()
    {
        VTable.Dispose();
        if (_handle.IsAllocated)
            _handle.Free();
    }
}

/// <summary>
/// The [UnmanagedCallersOnly] entry points sd-bus calls. An exception escaping one of these terminates the process,
/// so every one catches everything: errors become D-Bus errors (sd_bus_error_set + negative return) and unexpected
/// exceptions are also reported to <see cref="BusConnection.UnhandledException"/>.
/// </summary>
internal static unsafe class SdBusTrampolines
{
    /// <summary>sd_bus_message_handler_t for every exported method.</summary>
    [UnmanagedCallersOnly]
    internal static int OnMethod(nint m, nint userdata, nint retError)
    {
        try
        {
            var reg = Registration.FromUserData(userdata);
            return reg.Connection.DispatchMethod(reg, m, retError);
        }
        catch (Exception e)
        {
            BusConnection.ReportUnhandled(e);
            return SetError(retError, BusErrors.Failed, "Internal error.");
        }
    }

    /// <summary>sd_bus_property_get_t: sd-bus has already opened the variant; the getter writes one value.</summary>
    [UnmanagedCallersOnly]
    internal static int OnGetProperty(nint bus, byte* path, byte* iface, byte* property, nint reply, nint userdata, nint retError)
    {
        string name = "?";
        try
        {
            var reg = Registration.FromUserData(userdata);
            name = Utf8Z.Read(property) ?? "";
            if (!reg.Interface.TryGetProperty(name, out var entry))
                return SetError(retError, BusErrors.UnknownProperty, $"Unknown property {name}.");
            var objectPath = Utf8Z.Read(path) ?? "";
            MessageWriter.Fill(reply, writer => entry.Get(objectPath, writer), $"Getter of property {name}");
            return 1;
        }
        catch (BusException e)
        {
            return SetError(retError, e.ErrorName, e.Message);
        }
        catch (Exception e)
        {
            BusConnection.ReportUnhandled(e);
            return SetError(retError, BusErrors.Failed, $"Internal error reading property {name}.");
        }
    }

    /// <summary>sd_bus_object_find_t for fallback vtables: the object exists iff exists(path).</summary>
    [UnmanagedCallersOnly]
    internal static int OnFind(nint bus, byte* path, byte* iface, nint userdata, nint* retFound, nint retError)
    {
        try
        {
            var reg = Registration.FromUserData(userdata);
            if (reg.Exists is null || !reg.Exists(Utf8Z.Read(path) ?? ""))
                return 0;
            *retFound = userdata;
            return 1;
        }
        catch (Exception e)
        {
            BusConnection.ReportUnhandled(e);
            return SetError(retError, BusErrors.Failed, "Internal error looking up object.");
        }
    }

    /// <summary>
    /// sd_bus_node_enumerator_t: returns a malloc'ed NULL-terminated array of malloc'ed full object paths,
    /// which sd-bus frees with free() (NativeMemory.Alloc is malloc on Unix).
    /// </summary>
    [UnmanagedCallersOnly]
    internal static int OnEnumerate(nint bus, byte* prefix, nint userdata, byte*** retNodes, nint retError)
    {
        byte** nodes = null;
        int count = 0;
        try
        {
            var reg = Registration.FromUserData(userdata);
            var paths = reg.Enumerate?.Invoke().ToArray() ?? [];
            nodes = (byte**)NativeMemory.AllocZeroed((nuint)(paths.Length + 1), (nuint)sizeof(byte*));
            for (; count < paths.Length; count++)
            {
                byte[] bytes = Utf8Z.Bytes(paths[count]);
                byte* s = (byte*)NativeMemory.Alloc((nuint)bytes.Length);
                bytes.AsSpan().CopyTo(new Span<byte>(s, bytes.Length));
                nodes[count] = s;
            }
            *retNodes = nodes;
            return 0;
        }
        catch (Exception e)
        {
            if (nodes != null)
            {
                for (int i = 0; i < count; i++)
                    NativeMemory.Free(nodes[i]);
                NativeMemory.Free(nodes);
            }
            BusConnection.ReportUnhandled(e);
            return SetError(retError, BusErrors.Failed, "Internal error enumerating objects.");
        }
    }

    /// <summary>sd_bus_message_handler_t for sd_bus_call_async replies (and sd-bus's synthesized timeout errors).</summary>
    [UnmanagedCallersOnly]
    internal static int OnReply(nint m, nint userdata, nint retError)
    {
        try
        {
            var pending = (PendingCall)GCHandle.FromIntPtr(userdata).Target!;
            pending.Connection.CompletePendingCall(pending, m);
        }
        catch (Exception e)
        {
            BusConnection.ReportUnhandled(e);
        }
        return 0;
    }

    /// <summary>Fill the sd_bus_error sd-bus handed us; returns the negative errno sd-bus expects us to return.</summary>
    internal static int SetError(nint retError, string name, string message)
    {
        int r = sd_bus_error_set(retError, name, message);
        if (r >= 0)
            r = sd_bus_error_set(retError, BusErrors.Failed, message);
        return r < 0 ? r : -5; // -EIO
    }
}

/// <summary>State of one CallAsync in flight; sd-bus holds a GCHandle to it as userdata.</summary>
internal sealed class PendingCall
{
    public PendingCall(BusConnection connection, Action<MethodReply> onReply)
    {
        Connection = connection;
        OnReply = onReply;
    }

    public BusConnection Connection { get; }
    public Action<MethodReply> OnReply { get; }
    public GCHandle Handle { get; set; }
}
