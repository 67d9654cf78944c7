using Gvtd.Contract;
using Gvtd.DesiredState;
using Gvtd.Sysfs;

namespace Gvtd.Tests.Support;

/// <summary>Desired and observed states built in memory, for the planner.</summary>
public static class States
{
    public static DesiredVGpu Want(string uuid, string type, string parent) =>
        new(uuid, type, parent, null, new SourceLocation("/etc/gvtd/vgpus.yaml", 1, 1));

    public static DesiredStateSnapshot Desired(PrunePolicy prune, params DesiredVGpu[] vgpus) =>
        new(new Settings(TimeSpan.FromSeconds(60), prune), vgpus, []);

    public static MdevParent Parent(string name, params (string Id, int Available)[] types) =>
        new(name, $"/sys/devices/virtual/{name}", "drv",
            types.Select(t => new MdevType(t.Id, t.Id, "", "vfio-pci", t.Available, null)).ToList());

    /// <summary>A GVT-g parent: each type with its low graphics memory (high is four times it, 4 fences).</summary>
    public static MdevParent GvtParent(string name, params (string Id, long LowMiB, int Available)[] types) =>
        new(name, $"/sys/devices/pci0000:00/{name}", "i915",
            types.Select(t => new MdevType(t.Id, t.Id, "", "vfio-pci", t.Available, new GvtDescription(t.LowMiB, t.LowMiB * 4, 4, "1920x1200", 1))).ToList());

    public static MdevDevice Device(string uuid, string parent, string type, bool inUse = false) =>
        Device(uuid, parent, type, inUse ? DeviceUse.Held : DeviceUse.Free);

    public static MdevDevice Device(string uuid, string parent, string type, DeviceUse use) =>
        new(uuid, parent, type, $"/sys/devices/virtual/{parent}/{uuid}", 0, use);

    public static ObservedState Observed(IEnumerable<MdevParent> parents, params MdevDevice[] devices) =>
        new(parents.ToDictionary(p => p.Name), devices.ToDictionary(d => d.Uuid), []);

    public static HashSet<string> Owned(params string[] uuids) => [.. uuids];
}
