using Gvtd.Contract;

namespace Gvtctl;

internal sealed record VGpu(string Path, string Uuid, string Name, string Type, string Parent, string State, bool InUse,
    bool Declared, bool Owned, string LastError, string Source, string SysfsPath, string QemuArgs);

internal sealed record ParentDevice(string Path, string Name, string Driver, string SysfsPath, IReadOnlyList<MdevTypeRow> Types);

internal static partial class Commands
{
    public static int Run(CommandLine cl, Terminal term)
    {
        switch (cl.Command)
        {
            case "doctor":
                cl.Expect();
                return DoctorCommand.Run(cl, term);
            case "add" when cl.Name is not null:
                throw CommandLine.Usage("add: --name is not supported over D-Bus yet (AddVGpu takes no name); put name: in your YAML declaration instead");
        }
        // Usage errors come before any bus traffic, so they exit 2 even with no daemon.
        switch (cl.Command)
        {
            case "types": cl.Expect("[PARENT]"); break;
            case "add": cl.Expect("TYPE"); break;
            case "remove": RequireUuid(cl); break;
            case "qemu-args" or "libvirt-xml": RequireDevice(cl); break;
            default: cl.Expect(); break;
        }
        using var gvtd = GvtdClient.Connect(cl.Bus);
        return cl.Command switch
        {
            "status" => Status(cl, term, gvtd),
            "list" => List(cl, term, gvtd),
            "types" => Types(cl, term, gvtd),
            "plan" => Plan(cl, term, gvtd),
            "add" => Add(cl, term, gvtd),
            "remove" => Remove(cl, term, gvtd),
            "reconcile" => Reconcile(cl, term, gvtd),
            "reload" => Reload(cl, term, gvtd),
            "qemu-args" => QemuArgs(cl, term, gvtd),
            "libvirt-xml" => LibvirtXml(cl, term, gvtd),
            _ => throw CommandLine.Usage($"unknown command '{cl.Command}'"),
        };
    }

    private static T Get<T>(Dictionary<string, object?> props, string name, T fallback) =>
        props.TryGetValue(name, out var v) && v is T t ? t : fallback;

    internal static (List<VGpu> VGpus, List<ParentDevice> Parents) Objects(GvtdClient gvtd)
    {
        var objects = gvtd.GetManagedObjects("listing gvtd's objects");
        var vgpus = new List<VGpu>();
        var parents = new List<ParentDevice>();
        foreach (var (path, ifaces) in objects)
        {
            if (ifaces.TryGetValue(BusNames.VGpuInterface, out var v))
                vgpus.Add(new VGpu(path, Get(v, "Uuid", ""), Get(v, "Name", ""), Get(v, "Type", ""), Get(v, "Parent", ""),
                    Get(v, "State", ""), Get(v, "InUse", false), Get(v, "Declared", false), Get(v, "Owned", false),
                    Get(v, "LastError", ""), Get(v, "Source", ""), Get(v, "SysfsPath", ""), Get(v, "QemuArgs", "")));
            if (ifaces.TryGetValue(BusNames.ParentInterface, out var p))
                parents.Add(new ParentDevice(path, Get(p, "Name", ""), Get(p, "Driver", ""), Get(p, "SysfsPath", ""),
                    Get<List<MdevTypeRow>>(p, "Types", [])));
        }
        vgpus.Sort((a, b) => string.CompareOrdinal(a.Parent + a.Uuid, b.Parent + b.Uuid));
        parents.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return (vgpus, parents);
    }
}
