using System.Text;
using Gvtd.Commands;
using Gvtd.Contract;
using Gvtd.Reconcile;
using Gvtd.Sysfs;
using Microsoft.Extensions.Logging;
using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>
/// Every object gvtd exports, and the one place that turns a new status snapshot into signals.
/// Publishing is serialised and sends in a fixed order: vGPU and parent objects first, then the
/// Manager's counts, then ReconcileFinished, so whoever reacts to Desired changing finds the
/// objects it counts. The root object answers the ObjectManager's GetManagedObjects.
/// </summary>
internal sealed class BusObjects : IPathMethodHandler
{
    private readonly DBusConnection _bus;
    private readonly ObjectFamily<VGpuObject> _vgpus;
    private readonly ObjectFamily<MdevParent> _parents;
    private readonly ObjectFamily<FunctionStatus> _pfs;
    private readonly ObjectFamily<VfObject> _vfs;
    private readonly ObjectFamily<StatusSnapshot> _manager;
    private readonly Lock _publishing = new();
    private readonly ILogger _logger;
    private volatile IReadOnlyList<VGpuRow> _listed = [];
    private volatile IReadOnlyList<FunctionRow> _listedFunctions = [];

    public BusObjects(DBusConnection bus, ManagerCommands commands, ILogger logger)
    {
        _bus = bus;
        _logger = logger;
        _vgpus = ObjectFamily<VGpuObject>.Under(BusNames.VGpuPrefix, VGpuObjects.Interface(), logger);
        _parents = ObjectFamily<MdevParent>.Under(BusNames.ParentPrefix, ParentObjects.Interface(), logger);
        _pfs = ObjectFamily<FunctionStatus>.Under(BusNames.PhysicalFunctionPrefix, FunctionObjects.PfInterface(), logger);
        _vfs = ObjectFamily<VfObject>.Under(BusNames.VirtualFunctionPrefix, FunctionObjects.VfInterface(), logger);
        var manager = new ManagerObject(commands, new Authorizer(logger), () => _listed, _vgpus.PathOf, () => _listedFunctions);
        _manager = ObjectFamily<StatusSnapshot>.Single(BusNames.ManagerPath, manager.Interface(), logger);
    }

    public IReadOnlyList<IPathMethodHandler> Handlers => [this, _manager, _vgpus, _parents, _pfs, _vfs];

    public void Publish(StatusSnapshot snapshot, PassResult? result)
    {
        lock (_publishing)
        {
            // Everything a caller can read is updated before any signal says it changed.
            var vgpus = _vgpus.Update(VGpuObjects.From(snapshot));
            _listed = snapshot.VGpus.Select(v =>
                new VGpuRow(v.Uuid, v.Type, v.Parent, v.StateName, v.Name, _vgpus.PathOf(v.Uuid))).ToList();
            _listedFunctions = snapshot.Functions.SelectMany(f => (IEnumerable<FunctionRow>)[
                new FunctionRow(f.Address, "", f.Driver, f.StateName, f.InUse,
                    f.LastError.Length > 0 ? f.LastError : $"{f.Vfs.Count} of {f.TotalVfs} VFs" + (f.Declared ? $" on {f.VfDriver}" : ""), _pfs.PathOf(f.Address)),
                .. f.Vfs.Select(v => new FunctionRow(v.Address, f.Address, v.Driver, new VfObject(v, f.Address, f.VfDriver).State, v.InUse,
                    VmArguments.QemuArgsForFunction(v.Address), _vfs.PathOf(v.Address)))]).ToList();
            var parents = _parents.Update(ParentObjects.From(snapshot));
            var pfs = _pfs.Update(FunctionObjects.Pfs(snapshot));
            var vfs = _vfs.Update(FunctionObjects.Vfs(snapshot));
            var manager = _manager.Update([("", snapshot)]);
            Emit(_vgpus, vgpus);
            Emit(_parents, parents);
            Emit(_pfs, pfs);
            Emit(_vfs, vfs);
            Emit(_manager, manager);
            if (result is not null)
                Signal(BusNames.ManagerPath, BusNames.ManagerInterface, "ReconcileFinished", "uuu", (ref MessageWriter w) => ManagerObject.WriteCounts(ref w, result));
        }
    }

    private void Emit<T>(ObjectFamily<T> family, ObjectFamily<T>.Diff diff) where T : class
    {
        foreach (var path in diff.Removed)
            Signal(BusNames.Root, BusNames.ObjectManager, "InterfacesRemoved", "oas", (ref MessageWriter w) =>
            {
                w.WriteObjectPath(path);
                w.WriteArray((string[])[family.Interface.Name, .. ObjectFamily<T>.StandardInterfaces]);
            });
        foreach (var (path, item) in diff.Added)
            Signal(BusNames.Root, BusNames.ObjectManager, "InterfacesAdded", "oa{sa{sv}}", (ref MessageWriter w) =>
            {
                w.WriteObjectPath(path);
                family.WriteInterfaces(ref w, item);
            });
        foreach (var (path, item, names) in diff.Changed)
            Signal(path, BusNames.Properties, "PropertiesChanged", "sa{sv}as", (ref MessageWriter w) =>
            {
                w.WriteString(family.Interface.Name);
                family.Interface.Properties.WriteDictionary(ref w, item, names);
                w.WriteArray(Array.Empty<string>());
            });
    }

    private void Signal(string path, string iface, string member, string signature, BodyWriter body)
    {
        var writer = _bus.GetMessageWriter();
        try
        {
            writer.WriteSignalHeader(null, path, iface, member, signature);
            body(ref writer);
            if (!_bus.TrySendMessage(writer.CreateMessage()))
                _logger.LogDebug("Signal {Member} on {Path} not sent: the bus connection is closed", member, path);
        }
        finally
        {
            writer.Dispose();
        }
    }

    // ------------------------------------------------------------------ /org/gvtd/Gvtd1: the ObjectManager

    string IPathMethodHandler.Path => BusNames.Root;

    bool IPathMethodHandler.HandlesChildPaths => false;

    private static readonly ReadOnlyMemory<byte> ObjectManagerXml = Encoding.UTF8.GetBytes("""
         <interface name="org.freedesktop.DBus.ObjectManager">
          <method name="GetManagedObjects">
           <arg type="a{oa{sa{sv}}}" name="object_paths_interfaces_and_properties" direction="out"/>
          </method>
          <signal name="InterfacesAdded">
           <arg type="o" name="object_path"/>
           <arg type="a{sa{sv}}" name="interfaces_and_properties"/>
          </signal>
          <signal name="InterfacesRemoved">
           <arg type="o" name="object_path"/>
           <arg type="as" name="interfaces"/>
          </signal>
         </interface>

        """);

    ValueTask IPathMethodHandler.HandleMethodAsync(MethodContext context)
    {
        try
        {
            var request = context.Request;
            if (context.IsDBusIntrospectRequest)
                context.ReplyIntrospectXml([ObjectManagerXml]);
            else if (request.InterfaceAsString is BusNames.ObjectManager or null && request.MemberAsString == "GetManagedObjects")
                ReplyManagedObjects(context);
            else
                context.ReplyError(BusErrors.UnknownMethod, $"Unknown method {request.MemberAsString} or interface {request.InterfaceAsString}.");
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Answering GetManagedObjects failed");
            context.ReplyError(BusErrors.Failed, "GetManagedObjects failed because of an internal error; the journal has details (journalctl -u gvtd)");
        }
        return default;
    }

    private void ReplyManagedObjects(MethodContext context)
    {
        var writer = context.CreateReplyWriter("a{oa{sa{sv}}}");
        try
        {
            var all = writer.WriteDictionaryStart();
            WriteObjects(ref writer, _manager);
            WriteObjects(ref writer, _vgpus);
            WriteObjects(ref writer, _parents);
            WriteObjects(ref writer, _pfs);
            WriteObjects(ref writer, _vfs);
            writer.WriteDictionaryEnd(all);
            context.Reply(writer.CreateMessage());
        }
        finally
        {
            writer.Dispose();
        }
    }

    private static void WriteObjects<T>(ref MessageWriter writer, ObjectFamily<T> family) where T : class
    {
        foreach (var (path, item) in family.Objects)
        {
            writer.WriteDictionaryEntryStart();
            writer.WriteObjectPath(path);
            family.WriteInterfaces(ref writer, item);
        }
    }
}
