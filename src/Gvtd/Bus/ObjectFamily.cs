using Gvtd.Interop;

namespace Gvtd.Bus;

/// <summary>
/// A set of objects of one kind under one path prefix (vGPUs, parents), served by a fallback vtable
/// with a node enumerator. Each update diffs against the previous set and emits InterfacesAdded,
/// InterfacesRemoved and PropertiesChanged accordingly. Bus thread only.
/// </summary>
internal sealed class ObjectFamily<T>(string prefix, string interfaceName, PropertyTable<T> properties) where T : class
{
    private Dictionary<string, T> _objects = new(StringComparer.Ordinal);
    // Paths are computed once per object at publish time, not once per ListVGpus row.
    private Dictionary<string, string> _paths = new(StringComparer.Ordinal);

    public string PathOf(string key) => _paths.TryGetValue(key, out var path) ? path : BusConnection.EncodePath(prefix, key);

    public T? Find(string path) => _objects.GetValueOrDefault(path);

    public IEnumerable<T> All => _objects.Values;

    public void Export(BusConnection bus, BusInterface iface) =>
        bus.AddFallback(prefix, properties.AddTo(iface, Find), path => _objects.ContainsKey(path), () => _objects.Keys.ToList());

    public void Update(BusConnection bus, IEnumerable<(string Key, T Value)> items)
    {
        var list = items.ToList();
        var paths = list.ToDictionary(i => i.Key, i => PathOf(i.Key), StringComparer.Ordinal);
        var next = list.ToDictionary(i => paths[i.Key], i => i.Value, StringComparer.Ordinal);
        // InterfacesRemoved lists the object's interfaces, so it must go out while the object still exists.
        foreach (var path in _objects.Keys.Where(p => !next.ContainsKey(p)))
            bus.EmitObjectRemoved(path);
        var before = _objects;
        _objects = next;
        _paths = paths;
        foreach (var (path, value) in next)
        {
            if (!before.TryGetValue(path, out var old))
                bus.EmitObjectAdded(path);
            else if (properties.Changed(old, value) is { Length: > 0 } changed)
                bus.EmitPropertiesChanged(path, interfaceName, changed);
        }
    }
}
