using Gvtd.Interop;
using Gvtd.Reconcile;
using Gvtd.Sysfs;

namespace Gvtd.Bus;

/// <summary>/org/gvtd/Gvtd1/parent/&lt;name&gt;: each device that can host vGPUs, with its types.</summary>
internal sealed class ParentObjects
{
    private readonly ObjectFamily<MdevParent> _family = new(BusNames.ParentPrefix, BusNames.ParentInterface, Properties);

    public void Export(BusConnection bus) => _family.Export(bus, new BusInterface(BusNames.ParentInterface));

    public void Update(BusConnection bus, StatusSnapshot snapshot) =>
        _family.Update(bus, snapshot.Parents.Values.Select(p => (p.Name, p)));

    private static readonly PropertyTable<MdevParent> Properties = new(
        new("Name", "s", p => p.Name, Const: true),
        new("Driver", "s", p => p.Driver),
        new("SysfsPath", "s", p => p.SysfsPath),
        // Compared as text, written as a(ssssu): id, name, device_api, description, available_instances.
        new("Types", "a(ssssu)", p => p.Types.Select(t => $"{t.Id}\t{t.Name}\t{t.DeviceApi}\t{t.Description}\t{t.AvailableInstances}").ToList(), WriteTypes));

    private static void WriteTypes(MessageWriter writer, MdevParent parent)
    {
        writer.OpenArray("(ssssu)");
        foreach (var type in parent.Types)
        {
            writer.OpenStruct("ssssu");
            writer.Write(type.Id);
            writer.Write(type.Name);
            writer.Write(type.DeviceApi);
            writer.Write(type.Description);
            writer.Write((uint)type.AvailableInstances);
            writer.Close();
        }
        writer.Close();
    }
}
