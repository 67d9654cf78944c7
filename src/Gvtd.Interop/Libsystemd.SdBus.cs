using System.Runtime.InteropServices;

namespace Gvtd.Interop;

/// <summary>
/// Raw sd-bus entry points from libsystemd.so.0 (ABI-stable since systemd 221; checked against 252).
/// Declarations only: the typed wrappers live in BusConnection/MessageReader/MessageWriter.
/// Every opaque pointer (sd_bus*, sd_bus_message*, sd_bus_slot*, sd_bus_creds*, sd_bus_error*) is an nint.
/// Only non-variadic functions appear here: variadic C functions cannot be called from .NET on Linux x64.
/// All functions return negative errno on failure unless noted.
/// </summary>
internal static unsafe partial class Libsystemd
{
    private const string Lib = "libsystemd.so.0";

    // --- connection lifecycle ---
    [LibraryImport(Lib)] internal static partial int sd_bus_open_system(out nint bus);
    [LibraryImport(Lib)] internal static partial int sd_bus_open_user(out nint bus);
    [LibraryImport(Lib)] internal static partial int sd_bus_new(out nint bus);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_set_address(nint bus, string address);
    [LibraryImport(Lib)] internal static partial int sd_bus_set_bus_client(nint bus, int b);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_set_description(nint bus, string description);
    [LibraryImport(Lib)] internal static partial int sd_bus_start(nint bus);
    [LibraryImport(Lib)] internal static partial nint sd_bus_flush_close_unref(nint bus);
    [LibraryImport(Lib)] internal static partial nint sd_bus_unref(nint bus);
    [LibraryImport(Lib)] internal static partial int sd_bus_flush(nint bus);
    [LibraryImport(Lib)] internal static partial int sd_bus_get_unique_name(nint bus, out nint unique);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_request_name(nint bus, string name, ulong flags);

    // --- event loop integration ---
    [LibraryImport(Lib)] internal static partial int sd_bus_get_fd(nint bus);
    [LibraryImport(Lib)] internal static partial int sd_bus_get_events(nint bus);
    /// <summary>Absolute CLOCK_MONOTONIC deadline in µs, or UINT64_MAX for none.</summary>
    [LibraryImport(Lib)] internal static partial int sd_bus_get_timeout(nint bus, out ulong timeoutUsec);
    [LibraryImport(Lib)] internal static partial int sd_bus_process(nint bus, nint* ret);

    // --- object export ---
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int sd_bus_add_object_vtable(nint bus, out nint slot, string path, string iface, nint vtable, nint userdata);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int sd_bus_add_fallback_vtable(nint bus, out nint slot, string prefix, string iface, nint vtable,
        delegate* unmanaged<nint, byte*, byte*, nint, nint*, nint, int> find, nint userdata);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int sd_bus_add_node_enumerator(nint bus, out nint slot, string path,
        delegate* unmanaged<nint, byte*, nint, byte***, nint, int> callback, nint userdata);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int sd_bus_add_object_manager(nint bus, out nint slot, string path);
    [LibraryImport(Lib)] internal static partial nint sd_bus_slot_unref(nint slot);

    // --- emitting ---
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int sd_bus_emit_properties_changed_strv(nint bus, string path, string iface, byte** names);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_emit_object_added(nint bus, string path);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_emit_object_removed(nint bus, string path);

    // --- messages ---
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int sd_bus_message_new_signal(nint bus, out nint m, string path, string iface, string member);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int sd_bus_message_new_method_call(nint bus, out nint m, string? destination, string path, string? iface, string member);
    [LibraryImport(Lib)] internal static partial int sd_bus_message_new_method_return(nint call, out nint m);
    [LibraryImport(Lib)] internal static partial nint sd_bus_message_ref(nint m);
    [LibraryImport(Lib)] internal static partial nint sd_bus_message_unref(nint m);
    [LibraryImport(Lib)] internal static partial nint sd_bus_message_get_path(nint m);
    [LibraryImport(Lib)] internal static partial nint sd_bus_message_get_interface(nint m);
    [LibraryImport(Lib)] internal static partial nint sd_bus_message_get_member(nint m);
    [LibraryImport(Lib)] internal static partial nint sd_bus_message_get_sender(nint m);
    [LibraryImport(Lib)] internal static partial int sd_bus_message_get_allow_interactive_authorization(nint m);
    [LibraryImport(Lib)] internal static partial int sd_bus_message_set_allow_interactive_authorization(nint m, int b);
    [LibraryImport(Lib)] internal static partial nint sd_bus_message_get_signature(nint m, int complete);
    [LibraryImport(Lib)] internal static partial int sd_bus_message_get_expect_reply(nint m);
    /// <summary>Returns const sd_bus_error* (not owned) or NULL.</summary>
    [LibraryImport(Lib)] internal static partial SdBusError* sd_bus_message_get_error(nint m);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_message_is_method_error(nint m, string? name);

    [LibraryImport(Lib)] internal static partial int sd_bus_message_append_basic(nint m, byte type, void* p);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_message_open_container(nint m, byte type, string contents);
    [LibraryImport(Lib)] internal static partial int sd_bus_message_close_container(nint m);
    [LibraryImport(Lib)] internal static partial int sd_bus_message_read_basic(nint m, byte type, void* p);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_message_enter_container(nint m, byte type, string? contents);
    [LibraryImport(Lib)] internal static partial int sd_bus_message_exit_container(nint m);
    [LibraryImport(Lib)] internal static partial int sd_bus_message_peek_type(nint m, byte* type, byte** contents);
    [LibraryImport(Lib)] internal static partial int sd_bus_message_at_end(nint m, int complete);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_message_skip(nint m, string? types);

    [LibraryImport(Lib)] internal static partial int sd_bus_send(nint bus, nint m, ulong* cookie);
    [LibraryImport(Lib)]
    internal static partial int sd_bus_call_async(nint bus, nint* slot, nint m, delegate* unmanaged<nint, nint, nint, int> callback, nint userdata, ulong usec);

    // --- errors ---
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_error_set(nint e, string name, string? message);
    [LibraryImport(Lib)] internal static partial void sd_bus_error_free(SdBusError* e);
    [LibraryImport(Lib)] internal static partial int sd_bus_reply_method_error(nint call, SdBusError* e);

    // --- credentials ---
    [LibraryImport(Lib)] internal static partial int sd_bus_query_sender_creds(nint m, ulong mask, out nint creds);
    [LibraryImport(Lib)] internal static partial int sd_bus_creds_get_euid(nint creds, out uint euid);
    [LibraryImport(Lib)] internal static partial nint sd_bus_creds_unref(nint creds);

    // --- object path escaping (results are malloc'ed: free with Libc.free) ---
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_path_encode(string prefix, string externalId, out nint retPath);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int sd_bus_path_decode(string path, string prefix, out nint retExternalId);

    // sd-bus-vtable.h flags/types
    internal const ulong VTABLE_DEPRECATED = 1UL << 0;
    internal const ulong VTABLE_HIDDEN = 1UL << 1;
    internal const ulong VTABLE_UNPRIVILEGED = 1UL << 2;
    internal const ulong VTABLE_METHOD_NO_REPLY = 1UL << 3;
    internal const ulong VTABLE_PROPERTY_CONST = 1UL << 4;
    internal const ulong VTABLE_PROPERTY_EMITS_CHANGE = 1UL << 5;
    internal const ulong VTABLE_PROPERTY_EMITS_INVALIDATION = 1UL << 6;

    // sd-bus.h creds mask
    internal const ulong CREDS_EUID = 1UL << 4;
    internal const ulong CREDS_AUGMENT = 1UL << 63;

    internal const int EVENTS_POLLIN = 0x001;
}

/// <summary>sd_bus_error: { const char *name; const char *message; int _need_free; } (24 bytes on x64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SdBusError
{
    public nint Name;
    public nint Message;
    public int NeedFree;
}
