using static Gvtd.Interop.Libsystemd;

namespace Gvtd.Interop;

/// <summary>
/// An incoming method call. It holds its own sd_bus_message reference, so a handler may return without replying,
/// keep the object, and reply later ("take the message now, reply later"): from the bus thread the reply is sent at
/// once; from any other thread it is Posted to the bus thread. The reference is released after the reply.
/// <see cref="Args"/> stays readable until Reply/ReplyError/Dispose, on the bus thread only.
/// A handler that neither replies nor keeps the call leaves the caller waiting until its timeout: don't.
/// </summary>
public sealed unsafe class MethodCall : IDisposable
{
    private readonly BusConnection _conn;
    private nint _m; // owned reference; touched only on the bus thread (or after the connection closed)
    private int _replied;
    private uint? _euid;

    internal MethodCall(BusConnection conn, nint m)
    {
        _conn = conn;
        _m = sd_bus_message_ref(m);
        Path = Utf8Z.Read(sd_bus_message_get_path(m)) ?? "";
        Interface = Utf8Z.Read(sd_bus_message_get_interface(m)) ?? "";
        Member = Utf8Z.Read(sd_bus_message_get_member(m)) ?? "";
        Sender = Utf8Z.Read(sd_bus_message_get_sender(m)) ?? "";
        AllowInteractiveAuthorization = sd_bus_message_get_allow_interactive_authorization(m) > 0;
        Args = new MessageReader(_m, conn);
    }

    public string Path { get; }
    public string Interface { get; }
    public string Member { get; }
    /// <summary>Unique bus name of the caller (":1.42").</summary>
    public string Sender { get; }
    public MessageReader Args { get; }
    /// <summary>The caller set ALLOW_INTERACTIVE_AUTHORIZATION: polkit may ask someone for a password.</summary>
    public bool AllowInteractiveAuthorization { get; }
    public bool Replied => Volatile.Read(ref _replied) != 0;

    /// <summary>
    /// Effective uid of the caller: sd_bus_query_sender_creds(EUID|AUGMENT) + sd_bus_creds_get_euid
    /// (on dbus-daemon this asks the bus, GetConnectionCredentials). Synchronous; may be called from any thread
    /// (off the bus thread it runs there and waits); cached. Call it before replying.
    /// Throws BusException(AccessDenied) when the uid cannot be determined.
    /// </summary>
    public uint SenderEuid()
    {
        if (_euid is uint cached)
            return cached;
        uint euid = _conn.Invoke(() =>
        {
            if (_m == 0)
                throw new ObjectDisposedException(nameof(MethodCall), "SenderEuid must be called before the call is replied to or disposed.");
            int r = sd_bus_query_sender_creds(_m, CREDS_EUID | CREDS_AUGMENT, out nint creds);
            if (r < 0)
                throw new BusException(BusErrors.AccessDenied, $"Cannot determine the caller's identity: {Errnos.Describe(-r)}.");
            try
            {
                r = sd_bus_creds_get_euid(creds, out uint u);
                if (r < 0)
                    throw new BusException(BusErrors.AccessDenied, $"Cannot determine the caller's uid: {Errnos.Describe(-r)}.");
                return u;
            }
            finally
            {
                sd_bus_creds_unref(creds);
            }
        });
        _euid = euid;
        return euid;
    }

    /// <summary>Reply with a method return whose body <paramref name="body"/> writes (nothing for an empty reply).</summary>
    public void Reply(Action<MessageWriter>? body = null)
    {
        MarkReplied();
        _conn.Dispatch(() => SendReturn(body));
    }

    /// <summary>Reply with a D-Bus error.</summary>
    public void ReplyError(string errorName, string message)
    {
        ArgumentException.ThrowIfNullOrEmpty(errorName);
        MarkReplied();
        _conn.Dispatch(() => SendError(errorName, message ?? ""));
    }

    /// <summary>
    /// Release the message. A call disposed without a reply is answered with org.freedesktop.DBus.Error.Failed
    /// so the caller does not hang until its timeout.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _replied, 1) == 0)
            _conn.Dispatch(() => SendError(BusErrors.Failed, "The request was abandoned."));
    }

    private void MarkReplied()
    {
        if (Interlocked.Exchange(ref _replied, 1) != 0)
            throw new InvalidOperationException($"{Interface}.{Member} has already been replied to.");
    }

    private void SendReturn(Action<MessageWriter>? body)
    {
        try
        {
            if (_m == 0 || _conn.IsClosed || sd_bus_message_get_expect_reply(_m) == 0)
                return;
            int r = sd_bus_message_new_method_return(_m, out nint reply);
            if (r < 0)
                throw BusException.FromErrno(r, $"creating the reply to {Interface}.{Member}");
            try
            {
                MessageWriter.Fill(reply, body, $"Reply to {Interface}.{Member}");
                r = sd_bus_send(0, reply, null);
                if (r < 0)
                    throw BusException.FromErrno(r, $"sending the reply to {Interface}.{Member}");
            }
            catch
            {
                // The caller still deserves an answer even though building ours failed.
                SendErrorCore(BusErrors.Failed, "Internal error.");
                throw;
            }
            finally
            {
                sd_bus_message_unref(reply);
            }
        }
        finally
        {
            Release();
        }
    }

    private void SendError(string name, string message)
    {
        try
        {
            if (_m == 0 || _conn.IsClosed)
                return;
            int r = SendErrorCore(name, message);
            // An invalid error name makes the error message itself invalid: fall back to a generic one.
            if (r < 0 && name != BusErrors.Failed)
                r = SendErrorCore(BusErrors.Failed, message);
            if (r < 0)
                throw BusException.FromErrno(r, $"sending error {name} for {Interface}.{Member}");
        }
        finally
        {
            Release();
        }
    }

    private int SendErrorCore(string name, string message)
    {
        SdBusError e = default;
        try
        {
            sd_bus_error_set((nint)(&e), name, message);
            return sd_bus_reply_method_error(_m, &e); // returns 0 without sending if no reply is expected
        }
        finally
        {
            sd_bus_error_free(&e);
        }
    }

    private void Release()
    {
        nint m = _m;
        _m = 0;
        if (m != 0)
        {
            Args.Invalidate();
            sd_bus_message_unref(m);
        }
    }
}

/// <summary>Outcome of <see cref="BusConnection.CallAsync"/>: either an error (name + message) or a body to read.</summary>
public sealed class MethodReply
{
    public bool IsError { get; init; }
    public string? ErrorName { get; init; }
    public string? ErrorMessage { get; init; }
    /// <summary>The reply body; readable only inside the onReply callback.</summary>
    public MessageReader? Body { get; init; }
}
