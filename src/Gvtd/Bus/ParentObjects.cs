using Gvtd.Contract;
using Gvtd.Reconcile;
using Gvtd.Sysfs;
using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>/org/gvtd/Gvtd1/parent/&lt;name&gt;: each device that can host vGPUs, with its types.</summary>
internal static class ParentObjects
{
    public static BusInterface<MdevParent> Interface() => new(BusNames.ParentInterface, Properties);

    public static IEnumerable<(string Key, MdevParent Item)> From(StatusSnapshot snapshot) =>
        snapshot.Parents.Values.Select(p => (p.Name, p));

    private static List<MdevTypeRow> Rows(MdevParent parent) =>
        parent.Types.Select(t => new MdevTypeRow(t.Id, t.Name, t.DeviceApi, t.Description, (uint)Math.Max(0, t.AvailableInstances))).ToList();

    private static readonly PropertyTable<MdevParent> Properties = new(
        PropertyTable<MdevParent>.String("Name", p => p.Name, isConst: true),
        PropertyTable<MdevParent>.String("Driver", p => p.Driver),
        PropertyTable<MdevParent>.String("SysfsPath", p => p.SysfsPath),
        // Records compare by value, so a list of rows compares as its joined text.
        new PropertyTable<MdevParent>.Entry("Types", MdevTypeRow.ArraySignature, p => string.Join('\n', Rows(p)),
            (ref MessageWriter w, MdevParent p) => MdevTypeRow.WriteArray(ref w, Rows(p))));
}
