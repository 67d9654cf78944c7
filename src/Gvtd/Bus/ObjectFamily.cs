using Gvtd.Contract;
using Microsoft.Extensions.Logging;
using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>
/// The objects of one kind (the Manager; the vGPUs; the parents) and the handler that serves them.
/// The set is an immutable dictionary replaced whole on each publish, so handlers, which the
/// library runs concurrently on the thread pool, always read one consistent picture. Update
/// returns what changed; <see cref="BusObjects"/> turns that into signals.
/// </summary>
internal sealed class ObjectFamily<T> : IPathMethodHandler where T : class
{
    private readonly Func<string, string> _pathOf;
    private readonly ILogger _logger;
    private volatile Dictionary<string, T> _objects = new(StringComparer.Ordinal);
    private volatile Dictionary<string, string> _paths = new(StringComparer.Ordinal);

    private ObjectFamily(string path, bool handlesChildPaths, Func<string, string> pathOf, BusInterface<T> iface, ILogger logger)
    {
        Path = path;
        HandlesChildPaths = handlesChildPaths;
        _pathOf = pathOf;
        Interface = iface;
        _logger = logger;
    }

    /// <summary>One object at a fixed path.</summary>
    public static ObjectFamily<T> Single(string path, BusInterface<T> iface, ILogger logger) =>
        new(path, false, _ => path, iface, logger);

    /// <summary>One object per key at prefix/escaped-key.</summary>
    public static ObjectFamily<T> Under(string prefix, BusInterface<T> iface, ILogger logger) =>
        new(prefix, true, key => ObjectPaths.Encode(prefix, key), iface, logger);

    public string Path { get; }

    public bool HandlesChildPaths { get; }

    public BusInterface<T> Interface { get; }

    public IReadOnlyDictionary<string, T> Objects => _objects;

    public string PathOf(string key) => _paths.TryGetValue(key, out var path) ? path : _pathOf(key);

    public sealed record Diff(IReadOnlyList<string> Removed, IReadOnlyList<(string Path, T Item)> Added, IReadOnlyList<(string Path, T Item, string[] Names)> Changed);

    /// <summary>Replaces the set; called by one publisher at a time.</summary>
    public Diff Update(IEnumerable<(string Key, T Item)> items)
    {
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        var next = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var (key, item) in items)
        {
            var path = PathOf(key);
            paths[key] = path;
            next[path] = item;
        }
        var before = _objects;
        _paths = paths;
        _objects = next;

        var added = new List<(string, T)>();
        var changed = new List<(string, T, string[])>();
        foreach (var (path, item) in next)
        {
            if (!before.TryGetValue(path, out var old)) added.Add((path, item));
            else if (Interface.Properties.Changed(old, item) is { Length: > 0 } names) changed.Add((path, item, names));
        }
        return new Diff(before.Keys.Where(p => !next.ContainsKey(p)).ToList(), added, changed);
    }

    /// <summary>a{sa{sv}}: this object's interfaces as GetManagedObjects and InterfacesAdded list them (as sd-bus did).</summary>
    public void WriteInterfaces(ref MessageWriter writer, T item)
    {
        var dict = writer.WriteDictionaryStart();
        writer.WriteDictionaryEntryStart();
        writer.WriteString(Interface.Name);
        Interface.Properties.WriteDictionary(ref writer, item);
        foreach (var standard in StandardInterfaces)
        {
            writer.WriteDictionaryEntryStart();
            writer.WriteString(standard);
            writer.WriteDictionaryEnd(writer.WriteDictionaryStart());
        }
        writer.WriteDictionaryEnd(dict);
    }

    public static readonly string[] StandardInterfaces = [BusNames.Peer, BusNames.Introspectable, BusNames.Properties];

    public ValueTask HandleMethodAsync(MethodContext context)
    {
        try
        {
            Dispatch(context);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Answering {Member} on {Path} failed", context.Request.MemberAsString, context.Request.PathAsString);
            context.ReplyError(BusErrors.Failed, $"{context.Request.MemberAsString} failed because of an internal error; the journal has details (journalctl -u gvtd)");
        }
        return default;
    }

    private void Dispatch(MethodContext context)
    {
        var request = context.Request;
        var path = request.PathAsString ?? "";
        if (HandlesChildPaths && path == Path)
        {
            // The subtree's own node has no interface; it only lists its children.
            if (context.IsDBusIntrospectRequest)
                context.ReplyIntrospectXml([], _objects.Keys.Select(p => p[(Path.Length + 1)..]).ToList());
            else
                context.ReplyError(BusErrors.UnknownObject, $"Unknown object '{path}'.");
            return;
        }
        if (!_objects.TryGetValue(path, out var item))
        {
            context.ReplyError(BusErrors.UnknownObject, $"Unknown object '{path}'.");
            return;
        }
        if (context.IsDBusIntrospectRequest)
        {
            context.ReplyIntrospectXml([Interface.Xml, IntrospectionXml.DBusProperties]);
            return;
        }
        if (context.IsPropertiesInterfaceRequest)
        {
            PropertiesCall.Answer(context, Interface, item);
            return;
        }
        var member = request.MemberAsString ?? "";
        var iface = request.InterfaceAsString;
        if ((iface is not null && iface != Interface.Name) || Interface.FindMethod(member) is not { } method)
        {
            context.ReplyError(BusErrors.UnknownMethod, $"Unknown method {member} or interface {iface ?? Interface.Name}.");
            return;
        }
        var signature = request.SignatureAsString ?? "";
        if (signature != method.InSignature)
        {
            context.ReplyError(BusErrors.InvalidArgs, $"Invalid arguments '{signature}' to call {Interface.Name}.{member}(), expecting '{method.InSignature}'.");
            return;
        }
        new BusCall(context, method.OutSignature, _logger).Run(method.Handler);
    }
}
