using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using static Gvtd.Interop.Libsystemd;

namespace Gvtd.Interop;

public enum BusKind { System, User }

/// <summary>
/// One sd-bus connection and the loop that drives it.
///
/// Threading: sd-bus is not thread-safe, so the connection has one owner. While <see cref="Run"/> is active, the
/// thread inside Run is the bus thread (<see cref="IsBusThread"/>); all handlers and callbacks run there. Every public
/// method may still be called from any thread: off the bus thread it is marshalled to the loop (Post + wait), so the
/// calling thread blocks until the loop has done it and exceptions are rethrown to the caller. While no loop is
/// running, calls execute inline on the caller's thread, serialized by a lock (that is how setup before Run works).
/// Do not call these blocking methods from inside Post()ed work on another BusConnection's loop in a cycle.
/// </summary>
public sealed unsafe class BusConnection : IDisposable
{
    private readonly object _gate = new();          // guards loop ownership, disposal and inline (no-loop) execution
    private readonly object _wakeGate = new();      // guards the eventfd against close while another thread writes
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly List<Registration> _registrations = [];
    private readonly List<nint> _slots = [];        // object manager slots
    private readonly HashSet<PendingCall> _pending = [];
    private readonly ManualResetEventSlim _loopIdle = new(true);
    private nint _bus;
    private int _eventFd;
    private volatile int _loopThreadId;             // managed thread id inside Run, 0 when none
    private volatile bool _stopRequested;
    private bool _disposeRequested;
    private bool _disposeOnLoopExit;                // Dispose was called on the bus thread: Run's unwinding finishes it
    private volatile bool _closed;

    /// <summary>Exceptions thrown by handlers, getters, callbacks and posted work (they never reach native code). For logging.</summary>
    public static event Action<Exception>? UnhandledException;

    private BusConnection(nint bus)
    {
        _bus = bus;
        int r = sd_bus_get_unique_name(bus, out nint unique); // blocks until authenticated + Hello done
        if (r < 0)
            throw BusException.FromErrno(r, "connecting to the bus (Hello)");
        UniqueName = Utf8Z.Read(unique) ?? "";
        _eventFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (_eventFd < 0)
            throw BusException.FromErrno(-Marshal.GetLastPInvokeError(), "eventfd");
    }

    /// <summary>
    /// Connect to the system or user bus; sd-bus honours DBUS_SYSTEM_BUS_ADDRESS / DBUS_SESSION_BUS_ADDRESS.
    /// Throws <see cref="BusUnavailableException"/> when there is no bus to connect to.
    /// </summary>
    public static BusConnection Open(BusKind kind)
    {
        string where = kind == BusKind.System
            ? Environment.GetEnvironmentVariable("DBUS_SYSTEM_BUS_ADDRESS") ?? "unix:path=/run/dbus/system_bus_socket"
            : Environment.GetEnvironmentVariable("DBUS_SESSION_BUS_ADDRESS") ?? "$XDG_RUNTIME_DIR/bus";
        int r = kind == BusKind.System ? sd_bus_open_system(out nint bus) : sd_bus_open_user(out bus);
        if (r < 0)
            throw new BusUnavailableException($"Cannot connect to the D-Bus {kind.ToString().ToLowerInvariant()} bus at {where}: {Errnos.Describe(-r)}.", -r);
        return Create(bus, $"the D-Bus {kind.ToString().ToLowerInvariant()} bus at {where}");
    }

    /// <summary>Connect to a bus daemon at an explicit address (sd_bus_new + set_address + set_bus_client + start).</summary>
    public static BusConnection OpenAddress(string address)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        int r = sd_bus_new(out nint bus);
        if (r < 0)
            throw BusException.FromErrno(r, "sd_bus_new");
        if ((r = sd_bus_set_address(bus, address)) < 0 || (r = sd_bus_set_bus_client(bus, 1)) < 0 || (r = sd_bus_start(bus)) < 0)
        {
            sd_bus_flush_close_unref(bus);
            throw new BusUnavailableException($"Cannot connect to the D-Bus bus at {address}: {Errnos.Describe(-r)}.", -r);
        }
        return Create(bus, $"the D-Bus bus at {address}");
    }

    private static BusConnection Create(nint bus, string what)
    {
        try
        {
            return new BusConnection(bus);
        }
        catch (BusException e)
        {
            sd_bus_flush_close_unref(bus);
            throw new BusUnavailableException($"Cannot connect to {what}: {e.Message}", e.Errno);
        }
    }

    public string UniqueName { get; }

    /// <summary>True on the thread currently inside <see cref="Run"/>.</summary>
    public bool IsBusThread => _loopThreadId == Environment.CurrentManagedThreadId;

    internal bool IsClosed => _closed;

    /// <summary>sd_bus_request_name without queueing/replacement. Throws <see cref="BusNameException"/> if not acquired.</summary>
    public void RequestName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Invoke(() =>
        {
            int r = sd_bus_request_name(Bus, name, 0);
            if (r >= 0)
                return;
            string why = -r switch
            {
                Errnos.EEXIST => "it is already owned by another connection",
                Errnos.EALREADY => "this connection already owns it",
                Errnos.EACCES or Errnos.EPERM => "the bus policy does not allow this process to own it (check the D-Bus policy file for the service)",
                Errnos.EINVAL => "it is not a valid well-known bus name",
                _ => Errnos.Describe(-r),
            };
            throw new BusNameException(name, $"Cannot acquire the D-Bus name {name}: {why}.", -r);
        });
    }

    /// <summary>Export org.freedesktop.DBus.ObjectManager at <paramref name="path"/> (GetManagedObjects, InterfacesAdded/Removed).</summary>
    public void AddObjectManager(string path)
    {
        Invoke(() =>
        {
            int r = sd_bus_add_object_manager(Bus, out nint slot, path);
            if (r < 0)
                throw BusException.FromErrno(r, $"sd_bus_add_object_manager({path})");
            _slots.Add(slot);
        });
    }

    /// <summary>Export <paramref name="iface"/> on one object path.</summary>
    public void AddObject(string path, BusInterface iface)
    {
        ArgumentNullException.ThrowIfNull(iface);
        Invoke(() =>
        {
            iface.Freeze();
            var reg = new Registration(this, iface, null, null);
            int r = sd_bus_add_object_vtable(Bus, out nint slot, path, iface.Name, reg.VTable.Pointer, reg.UserData);
            if (r < 0)
            {
                reg.Free();
                throw BusException.FromErrno(r, $"sd_bus_add_object_vtable({path}, {iface.Name})");
            }
            reg.Slots.Add(slot);
            _registrations.Add(reg);
        });
    }

    /// <summary>
    /// Export <paramref name="iface"/> on every object under <paramref name="prefix"/> for which
    /// <paramref name="exists"/>(path) is true; <paramref name="enumerate"/> lists those objects (full paths) for
    /// introspection, `busctl tree` and GetManagedObjects. Handlers and getters get the object path. Both callbacks
    /// run on the bus thread.
    /// </summary>
    public void AddFallback(string prefix, BusInterface iface, Func<string, bool> exists, Func<IEnumerable<string>> enumerate)
    {
        ArgumentNullException.ThrowIfNull(iface);
        ArgumentNullException.ThrowIfNull(exists);
        ArgumentNullException.ThrowIfNull(enumerate);
        Invoke(() =>
        {
            iface.Freeze();
            var reg = new Registration(this, iface, exists, enumerate);
            int r = sd_bus_add_fallback_vtable(Bus, out nint slot, prefix, iface.Name, reg.VTable.Pointer, &SdBusTrampolines.OnFind, reg.UserData);
            if (r < 0)
            {
                reg.Free();
                throw BusException.FromErrno(r, $"sd_bus_add_fallback_vtable({prefix}, {iface.Name})");
            }
            reg.Slots.Add(slot);
            r = sd_bus_add_node_enumerator(Bus, out slot, prefix, &SdBusTrampolines.OnEnumerate, reg.UserData);
            if (r < 0)
            {
                reg.ReleaseSlots();
                reg.Free();
                throw BusException.FromErrno(r, $"sd_bus_add_node_enumerator({prefix})");
            }
            reg.Slots.Add(slot);
            _registrations.Add(reg);
        });
    }

    /// <summary>PropertiesChanged for the named properties (which must be EmitsChange); values come from the getters.</summary>
    public void EmitPropertiesChanged(string path, string iface, params string[] names)
    {
        ArgumentNullException.ThrowIfNull(names);
        Invoke(() =>
        {
            var strings = names.Select(Utf8Z.Bytes).ToArray();
            var handles = new GCHandle[strings.Length];
            byte** strv = stackalloc byte*[strings.Length + 1];
            try
            {
                for (int i = 0; i < strings.Length; i++)
                {
                    handles[i] = GCHandle.Alloc(strings[i], GCHandleType.Pinned);
                    strv[i] = (byte*)handles[i].AddrOfPinnedObject();
                }
                strv[strings.Length] = null;
                int r = sd_bus_emit_properties_changed_strv(Bus, path, iface, strv);
                if (r < 0)
                    throw BusException.FromErrno(r, $"emitting PropertiesChanged({path}, {iface}, {string.Join(",", names)})");
            }
            finally
            {
                foreach (var h in handles)
                    if (h.IsAllocated)
                        h.Free();
            }
        });
    }

    /// <summary>InterfacesAdded for all interfaces at <paramref name="path"/> (needs an object manager above it).</summary>
    public void EmitObjectAdded(string path) => Invoke(() =>
    {
        int r = sd_bus_emit_object_added(Bus, path);
        if (r < 0)
            throw BusException.FromErrno(r, $"emitting InterfacesAdded({path})");
    });

    /// <summary>InterfacesRemoved for all interfaces at <paramref name="path"/>; call it while the object still exists.</summary>
    public void EmitObjectRemoved(string path) => Invoke(() =>
    {
        int r = sd_bus_emit_object_removed(Bus, path);
        if (r < 0)
            throw BusException.FromErrno(r, $"emitting InterfacesRemoved({path})");
    });

    /// <summary>Broadcast a signal whose body <paramref name="body"/> writes.</summary>
    public void EmitSignal(string path, string iface, string member, Action<MessageWriter>? body) => Invoke(() =>
    {
        int r = sd_bus_message_new_signal(Bus, out nint m, path, iface, member);
        if (r < 0)
            throw BusException.FromErrno(r, $"creating signal {iface}.{member} on {path}");
        try
        {
            MessageWriter.Fill(m, body, $"Signal {iface}.{member}");
            r = sd_bus_send(Bus, m, null);
            if (r < 0)
                throw BusException.FromErrno(r, $"sending signal {iface}.{member}");
        }
        finally
        {
            sd_bus_message_unref(m);
        }
    });

    /// <summary>
    /// Call a method on another service without blocking the loop. <paramref name="onReply"/> runs once on the bus
    /// thread with the reply body or the error (a timeout arrives as org.freedesktop.DBus.Error.NoReply); the body
    /// is readable only inside onReply. Zero/negative <paramref name="timeout"/> = sd-bus default (25 s).
    /// Calls still pending at Dispose are dropped without a callback.
    /// </summary>
    /// <param name="allowInteractiveAuthorization">
    /// Lets the callee's polkit ask the user for a password (as busctl does by default); for calls a person made.
    /// </param>
    public void CallAsync(string destination, string path, string iface, string member, Action<MessageWriter>? args, Action<MethodReply> onReply,
        TimeSpan timeout, bool allowInteractiveAuthorization = false)
    {
        ArgumentNullException.ThrowIfNull(onReply);
        ulong usec = timeout == Timeout.InfiniteTimeSpan ? ulong.MaxValue : timeout <= TimeSpan.Zero ? 0 : (ulong)(timeout.Ticks / 10);
        Invoke(() =>
        {
            int r = sd_bus_message_new_method_call(Bus, out nint m, destination, path, iface, member);
            if (r < 0)
                throw BusException.FromErrno(r, $"creating call {destination} {path} {iface}.{member}");
            try
            {
                if (allowInteractiveAuthorization) sd_bus_message_set_allow_interactive_authorization(m, 1);
                MessageWriter.Fill(m, args, $"Call {iface}.{member}");
                var pending = new PendingCall(this, onReply);
                pending.Handle = GCHandle.Alloc(pending);
                // NULL slot => floating: sd-bus frees it after the callback; the handle is freed in CompletePendingCall.
                r = sd_bus_call_async(Bus, null, m, &SdBusTrampolines.OnReply, GCHandle.ToIntPtr(pending.Handle), usec);
                if (r < 0)
                {
                    pending.Handle.Free();
                    throw BusException.FromErrno(r, $"calling {destination} {iface}.{member}");
                }
                _pending.Add(pending);
            }
            finally
            {
                sd_bus_message_unref(m);
            }
        });
    }

    /// <summary>Queue work for the bus thread; thread-safe. Work queued while no loop runs waits for the next Run.</summary>
    public void Post(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(_closed, this);
        _posted.Enqueue(work);
        Wake();
    }

    /// <summary>
    /// Drive the connection on the calling thread (which becomes the bus thread) until <paramref name="stop"/> fires
    /// or the connection is disposed. Throws BusException (Disconnected) if the bus connection is lost.
    /// </summary>
    public void Run(CancellationToken stop)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed || _disposeRequested, this);
            if (_loopThreadId != 0)
                throw new InvalidOperationException("BusConnection.Run is already running on another thread.");
            _loopThreadId = Environment.CurrentManagedThreadId;
            _stopRequested = false;
            _loopIdle.Reset();
        }

        using var registration = stop.Register(Wake);
        try
        {
            while (!stop.IsCancellationRequested && !_stopRequested)
            {
                RunPosted();
                int r = sd_bus_process(_bus, null);
                if (r < 0)
                {
                    if (-r is Errnos.ECONNRESET or Errnos.ENOTCONN or Errnos.ESHUTDOWN or 32 /* EPIPE */)
                        throw new BusException(BusErrors.Disconnected, $"Lost the D-Bus connection: {Errnos.Describe(-r)}.");
                    throw BusException.FromErrno(r, "sd_bus_process");
                }
                if (r > 0)
                    continue;
                WaitForWork();
            }
            sd_bus_flush(_bus); // best effort: don't lose replies queued just before stopping
        }
        finally
        {
            // Work accepted while we owned the loop runs here, so Invoke() callers never wait forever.
            while (true)
            {
                lock (_gate)
                {
                    if (_posted.IsEmpty)
                    {
                        _loopThreadId = 0;
                        break;
                    }
                }
                RunPosted();
            }
            bool dispose;
            lock (_gate)
                dispose = _disposeOnLoopExit;
            _loopIdle.Set();
            if (dispose)
                DisposeCore();
        }
    }

    /// <summary>sd_bus_path_encode: "/org/x" + "5f1c-..." → "/org/x/5f1c_2d...".</summary>
    public static string EncodePath(string prefix, string external)
    {
        int r = sd_bus_path_encode(prefix, external, out nint p);
        if (r < 0)
            throw BusException.FromErrno(r, $"sd_bus_path_encode({prefix}, {external})");
        try { return Utf8Z.Read(p)!; }
        finally { Libc.free((void*)p); }
    }

    /// <summary>sd_bus_path_decode: the external id if <paramref name="path"/> is directly under <paramref name="prefix"/>, else null.</summary>
    public static string? DecodePath(string path, string prefix)
    {
        int r = sd_bus_path_decode(path, prefix, out nint p);
        if (r < 0)
            throw BusException.FromErrno(r, $"sd_bus_path_decode({path}, {prefix})");
        if (r == 0 || p == 0)
            return null;
        try { return Utf8Z.Read(p); }
        finally { Libc.free((void*)p); }
    }

    /// <summary>
    /// Stop the loop (waiting for it when it runs on another thread), release every slot, then
    /// sd_bus_flush_close_unref, then free vtables and GCHandles. Called on the bus thread (from a handler),
    /// disposal completes when Run unwinds.
    /// </summary>
    public void Dispose()
    {
        bool waitForLoop;
        lock (_gate)
        {
            if (_closed || _disposeRequested)
                return;
            _disposeRequested = true;
            _stopRequested = true;
            if (_loopThreadId == Environment.CurrentManagedThreadId)
            {
                _disposeOnLoopExit = true;
                Wake();
                return; // Run's finally completes the disposal
            }
            waitForLoop = _loopThreadId != 0;
        }
        if (waitForLoop)
        {
            Wake();
            _loopIdle.Wait();
        }
        DisposeCore();
    }

    // ---------------------------------------------------------------- internals

    private nint Bus => _bus != 0 ? _bus : throw new ObjectDisposedException(nameof(BusConnection));

    internal static void ReportUnhandled(Exception e)
    {
        try
        {
            UnhandledException?.Invoke(e);
        }
        catch
        {
            // A failing logger must not take the process down from inside a native callback.
        }
    }

    /// <summary>Readers may only be used on the bus thread while a loop runs.</summary>
    internal void CheckBusThread()
    {
        int owner = _loopThreadId;
        if (owner != 0 && owner != Environment.CurrentManagedThreadId)
            throw new InvalidOperationException("D-Bus messages may only be read on the bus thread; use BusConnection.Post.");
    }

    /// <summary>Run on the bus thread and wait: inline when already there or when no loop runs (under the gate).</summary>
    internal T Invoke<T>(Func<T> work)
    {
        ManualResetEventSlim done;
        T result = default!;
        ExceptionDispatchInfo? error = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed || _disposeRequested, this);
            int owner = _loopThreadId;
            if (owner == 0)
                return work();
            if (owner == Environment.CurrentManagedThreadId)
                goto inline;
            done = new ManualResetEventSlim();
            _posted.Enqueue(() =>
            {
                try { result = work(); }
                catch (Exception e) { error = ExceptionDispatchInfo.Capture(e); }
                finally { done.Set(); }
            });
        }
        Wake();
        done.Wait();
        done.Dispose();
        error?.Throw();
        return result;

    inline:
        return work();
    }

    internal void Invoke(Action work) => Invoke<bool>(() => { work(); return true; });

    /// <summary>
    /// Run on the bus thread without waiting: inline when on it (exceptions propagate), Posted otherwise
    /// (exceptions reported). After the connection closed, runs inline under the gate so messages can be released.
    /// </summary>
    internal void Dispatch(Action work)
    {
        lock (_gate)
        {
            int owner = _loopThreadId;
            if (_closed || owner == 0)
            {
                work();
                return;
            }
            if (owner != Environment.CurrentManagedThreadId)
            {
                _posted.Enqueue(work);
                Wake();
                return;
            }
        }
        work();
    }

    /// <summary>Called by the method trampoline: look up the handler, run it, turn exceptions into error replies.</summary>
    internal int DispatchMethod(Registration reg, nint m, nint retError)
    {
        string member = Utf8Z.Read(sd_bus_message_get_member(m)) ?? "";
        if (!reg.Interface.TryGetMethod(member, out var entry))
            return SdBusTrampolines.SetError(retError, BusErrors.UnknownMethod, $"Unknown method {member}.");
        var call = new MethodCall(this, m);
        try
        {
            entry.Handler(call);
        }
        catch (BusException e)
        {
            if (call.Replied)
                ReportUnhandled(e);
            else
                call.ReplyError(e.ErrorName, e.Message);
        }
        catch (Exception e)
        {
            ReportUnhandled(e);
            if (!call.Replied)
                call.ReplyError(BusErrors.Failed, $"Internal error in {reg.Interface.Name}.{member}.");
        }
        return 1; // replied (or deferred) by us: sd-bus must not reply itself
    }

    internal void CompletePendingCall(PendingCall pending, nint m)
    {
        _pending.Remove(pending);
        if (pending.Handle.IsAllocated)
            pending.Handle.Free();

        MethodReply reply;
        if (sd_bus_message_is_method_error(m, null) > 0)
        {
            SdBusError* e = sd_bus_message_get_error(m);
            reply = new MethodReply
            {
                IsError = true,
                ErrorName = e != null ? Utf8Z.Read(e->Name) : BusErrors.Failed,
                ErrorMessage = e != null ? Utf8Z.Read(e->Message) : null,
            };
        }
        else
        {
            reply = new MethodReply { Body = new MessageReader(m, this) };
        }
        try
        {
            pending.OnReply(reply);
        }
        catch (Exception e)
        {
            ReportUnhandled(e);
        }
        finally
        {
            reply.Body?.Invalidate();
        }
    }

    private void RunPosted()
    {
        while (_posted.TryDequeue(out var work))
        {
            try
            {
                work();
            }
            catch (Exception e)
            {
                ReportUnhandled(e);
            }
        }
    }

    private void Wake()
    {
        lock (_wakeGate)
        {
            if (_eventFd <= 0)
                return;
            ulong one = 1;
            Libc.write(_eventFd, &one, 8); // EAGAIN only if the counter is saturated: still readable, fine
        }
    }

    /// <summary>Poll the bus fd (events/deadline from sd-bus) and the wake eventfd.</summary>
    private void WaitForWork()
    {
        int fd = sd_bus_get_fd(_bus);
        if (fd < 0)
            throw BusException.FromErrno(fd, "sd_bus_get_fd");
        int events = sd_bus_get_events(_bus);
        if (events < 0)
            throw new BusException(BusErrors.Disconnected, $"Lost the D-Bus connection: {Errnos.Describe(-events)}.");
        int r = sd_bus_get_timeout(_bus, out ulong deadline);
        if (r < 0)
            throw BusException.FromErrno(r, "sd_bus_get_timeout");

        int timeoutMs = -1;
        if (deadline != ulong.MaxValue)
        {
            ulong now = Libc.MonotonicMicroseconds();
            timeoutMs = deadline <= now ? 0 : (int)Math.Min(int.MaxValue, (deadline - now + 999) / 1000);
        }

        Libc.PollFd* fds = stackalloc Libc.PollFd[2];
        fds[0] = new Libc.PollFd { Fd = fd, Events = (short)events };
        fds[1] = new Libc.PollFd { Fd = _eventFd, Events = Libc.POLLIN };
        r = Libc.poll(fds, 2, timeoutMs);
        if (r < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EINTR)
                return;
            throw BusException.FromErrno(-errno, "poll");
        }
        if ((fds[1].REvents & Libc.POLLIN) != 0)
        {
            ulong value;
            Libc.read(_eventFd, &value, 8);
        }
    }

    private void DisposeCore()
    {
        lock (_gate)
        {
            if (_closed)
                return;
            _closed = true;
            // Order matters: slots first (releasing a vtable slot re-reads the vtable), then the bus, then memory.
            foreach (var reg in _registrations)
                reg.ReleaseSlots();
            foreach (var slot in _slots)
                sd_bus_slot_unref(slot);
            _slots.Clear();
            if (_bus != 0)
            {
                sd_bus_flush_close_unref(_bus);
                // MethodCalls still holding messages keep the (closed) sd_bus object alive; it is only a refcount now.
                _bus = 0;
            }
            foreach (var reg in _registrations)
                reg.Free();
            _registrations.Clear();
            foreach (var p in _pending)
                if (p.Handle.IsAllocated)
                    p.Handle.Free();
            _pending.Clear();
            _posted.Clear();
        }
        lock (_wakeGate)
        {
            if (_eventFd > 0)
                Libc.close(_eventFd);
            _eventFd = -1;
        }
        _loopIdle.Dispose();
    }
}
