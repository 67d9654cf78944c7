using System.Globalization;
using System.Text.Json;
using Gvtd.DesiredState;
using Gvtd.Interop;
using Gvtd.Sysfs;

namespace Gvtctl;

internal sealed record VGpu(string Path, string Uuid, string Name, string Type, string Parent, string State, bool InUse,
    bool Declared, bool Owned, string LastError, string Source, string SysfsPath, string QemuArgs);

internal sealed record ParentDevice(string Path, string Name, string Driver, string SysfsPath, IReadOnlyList<MdevType> Types)
{
    /// <summary>GVT-g's parent is the i915 GPU; there the display and OpRegion options apply.</summary>
    public bool IsGvtg => Driver == "i915";
}

internal static class Commands
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
            case "remove" or "qemu-args" or "libvirt-xml": RequireUuid(cl); break;
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

    // ------------------------------------------------------------------ reading

    private static T Get<T>(Dictionary<string, object?> props, string name, T fallback) =>
        props.TryGetValue(name, out var v) && v is T t ? t : fallback;

    internal static (List<VGpu> VGpus, List<ParentDevice> Parents) Objects(GvtdClient gvtd)
    {
        var objects = gvtd.GetManagedObjects("listing gvtd's objects");
        var vgpus = new List<VGpu>();
        var parents = new List<ParentDevice>();
        foreach (var (path, ifaces) in objects)
        {
            if (ifaces.TryGetValue(GvtdClient.VGpuIface, out var v))
                vgpus.Add(new VGpu(path, Get(v, "Uuid", ""), Get(v, "Name", ""), Get(v, "Type", ""), Get(v, "Parent", ""),
                    Get(v, "State", ""), Get(v, "InUse", false), Get(v, "Declared", false), Get(v, "Owned", false),
                    Get(v, "LastError", ""), Get(v, "Source", ""), Get(v, "SysfsPath", ""), Get(v, "QemuArgs", "")));
            if (ifaces.TryGetValue(GvtdClient.ParentIface, out var p))
                parents.Add(new ParentDevice(path, Get(p, "Name", ""), Get(p, "Driver", ""), Get(p, "SysfsPath", ""),
                    Get<List<MdevType>>(p, "Types", [])));
        }
        vgpus.Sort((a, b) => string.CompareOrdinal(a.Parent + a.Uuid, b.Parent + b.Uuid));
        parents.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return (vgpus, parents);
    }

    // ------------------------------------------------------------------ status

    private static int Status(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect();
        var m = gvtd.GetAll(GvtdClient.ManagerPath, GvtdClient.ManagerIface, "reading gvtd's status");
        var state = Get(m, "State", "");
        var configError = Get(m, "ConfigError", "");
        var files = Get<List<string>>(m, "ConfigFiles", []);
        ulong intervalUs = Get(m, "Interval", 0UL), lastUs = Get(m, "LastReconcile", 0UL);
        uint desired = Get(m, "Desired", 0u), active = Get(m, "Active", 0u), failed = Get(m, "Failed", 0u);
        DateTimeOffset? last = lastUs == 0 ? null : DateTimeOffset.UnixEpoch.AddTicks((long)lastUs * TimeSpan.TicksPerMicrosecond);
        bool allActive = configError.Length == 0 && active == desired && failed == 0 && state != "degraded";

        if (cl.Json)
        {
            Json.Write(term.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("version", Get(m, "Version", ""));
                w.WriteString("state", state);
                w.WriteStartArray("configFiles");
                foreach (var f in files) w.WriteStringValue(f);
                w.WriteEndArray();
                w.StringOrNull("configError", configError);
                w.WriteNumber("intervalSeconds", intervalUs / 1_000_000);
                w.WriteString("prune", Get(m, "Prune", ""));
                if (last is { } l) w.WriteString("lastReconcile", l.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                else w.WriteNull("lastReconcile");
                w.WriteNumber("desired", desired);
                w.WriteNumber("active", active);
                w.WriteNumber("failed", failed);
                w.WriteBoolean("allActive", allActive);
                w.WriteEndObject();
            });
            return allActive ? ExitCodes.Ok : ExitCodes.NotAllActive;
        }

        var o = term.Out;
        o.WriteLine($"gvtd {Get(m, "Version", "")}: {term.State(state)}");
        o.WriteLine($"  config:     {(files.Count == 0 ? "(none)" : string.Join(", ", files))}");
        if (configError.Length > 0)
            foreach (var line in configError.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                o.WriteLine($"  {term.Paint("error:", "31")}      {line}");
        o.WriteLine($"  last pass:  {(last is { } t ? $"{t.ToLocalTime():yyyy-MM-dd HH:mm:ss} ({Ago(DateTimeOffset.UtcNow - t)})" : "none yet")}");
        o.WriteLine($"  interval:   {Duration(intervalUs)}, prune {Get(m, "Prune", "")}");
        o.WriteLine($"  vGPUs:      {desired} declared, {active} active, {failed} failed");
        if (!allActive)
            o.WriteLine(configError.Length > 0
                ? "The config is invalid; the last valid state stays in force. Fix the file, then: gvtctl reload"
                : $"{desired - Math.Min(active, desired)} of {desired} declared vGPU(s) not active: gvtctl plan shows why");
        return allActive ? ExitCodes.Ok : ExitCodes.NotAllActive;
    }

    private static string Ago(TimeSpan t) =>
        t.TotalSeconds < 1 ? "just now"
        : t.TotalMinutes < 1 ? $"{(int)t.TotalSeconds} s ago"
        : t.TotalHours < 1 ? $"{(int)t.TotalMinutes} min ago"
        : t.TotalDays < 1 ? $"{(int)t.TotalHours} h ago"
        : $"{(int)t.TotalDays} days ago";

    private static string Duration(ulong us)
    {
        ulong s = us / 1_000_000;
        return s % 3600 == 0 && s > 0 ? $"{s / 3600}h" : s % 60 == 0 && s > 0 ? $"{s / 60}m" : $"{s}s";
    }

    // ------------------------------------------------------------------ list

    private static int List(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect();
        var (vgpus, _) = Objects(gvtd);
        if (cl.Json)
        {
            Json.Write(term.Out, w =>
            {
                w.WriteStartArray();
                foreach (var v in vgpus)
                {
                    w.WriteStartObject();
                    w.WriteString("uuid", v.Uuid);
                    w.StringOrNull("name", v.Name);
                    w.WriteString("type", v.Type);
                    w.WriteString("parent", v.Parent);
                    w.WriteString("state", v.State);
                    w.WriteBoolean("inUse", v.InUse);
                    w.WriteBoolean("declared", v.Declared);
                    w.WriteBoolean("owned", v.Owned);
                    w.StringOrNull("lastError", v.LastError);
                    w.StringOrNull("source", v.Source);
                    w.StringOrNull("sysfsPath", v.SysfsPath);
                    w.WriteString("objectPath", v.Path);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            });
            return ExitCodes.Ok;
        }
        if (vgpus.Count == 0)
        {
            term.Out.WriteLine("No vGPUs declared or present. Declare some in /etc/gvtd/vgpus.yaml, or: gvtctl add TYPE");
            return ExitCodes.Ok;
        }
        var table = new Table("UUID", "NAME", "TYPE", "PARENT", "STATE", "IN USE");
        foreach (var v in vgpus)
            table.Add(v.Uuid, v.Name.Length > 0 ? v.Name : "-", v.Type, v.Parent, v.State, v.InUse ? "yes" : "no");
        table.Write(term, (col, text) => col == 4 ? term.State(text) : text);
        foreach (var v in vgpus.Where(v => v.LastError.Length > 0))
            term.Out.WriteLine($"{v.Uuid}: {GvtdClient.OneLine(v.LastError)}");
        return ExitCodes.Ok;
    }

    // ------------------------------------------------------------------ types

    private static int Types(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect("[PARENT]");
        var (_, all) = Objects(gvtd);
        var parents = all;
        if (cl.Operands.Count == 1)
        {
            var wanted = Identifiers.TryNormaliseParent(cl.Operands[0], out var p, out _) ? p : cl.Operands[0];
            parents = all.Where(x => x.Name == wanted).ToList();
            if (parents.Count == 0)
                throw new CliException(ExitCodes.Failure, $"no mdev parent {wanted}; {KnownParents(all)}");
        }
        if (cl.Json)
        {
            Json.Write(term.Out, w =>
            {
                w.WriteStartArray();
                foreach (var parent in parents)
                    foreach (var t in parent.Types)
                    {
                        w.WriteStartObject();
                        w.WriteString("parent", parent.Name);
                        w.WriteString("driver", parent.Driver);
                        w.WriteString("type", t.Id);
                        w.StringOrNull("name", t.Name);
                        w.WriteString("deviceApi", t.DeviceApi);
                        w.WriteString("description", t.Description);
                        w.WriteNumber("available", t.Available);
                        if (GvtDescriptionParser.Parse(t.Description) is { } d)
                        {
                            w.WriteStartObject("gvt");
                            w.WriteString("resolution", d.Resolution);
                            w.WriteNumber("lowGmMiB", d.LowGmMiB);
                            w.WriteNumber("highGmMiB", d.HighGmMiB);
                            w.WriteNumber("fence", d.Fence);
                            w.WriteNumber("weight", d.Weight);
                            w.WriteEndObject();
                        }
                        else
                        {
                            w.WriteNull("gvt");
                        }
                        w.WriteEndObject();
                    }
                w.WriteEndArray();
            });
            return ExitCodes.Ok;
        }
        if (parents.Count == 0)
        {
            term.Out.WriteLine("No mdev parents: is the GPU's driver loaded with GVT-g enabled (i915.enable_gvt=1)? gvtctl doctor checks.");
            return ExitCodes.Ok;
        }
        var table = new Table("PARENT", "TYPE", "AVAILABLE", "RESOLUTION", "MEMORY", "DESCRIPTION");
        foreach (var parent in parents)
            foreach (var t in parent.Types)
            {
                var d = GvtDescriptionParser.Parse(t.Description);
                table.Add(parent.Name, t.Id, t.Available.ToString(CultureInfo.InvariantCulture),
                    d is null || d.Resolution.Length == 0 ? "-" : d.Resolution,
                    d is null ? "-" : $"{d.LowGmMiB + d.HighGmMiB} MiB ({d.LowGmMiB}+{d.HighGmMiB})",
                    d is null ? (t.Name.Length > 0 ? t.Name : GvtdClient.OneLine(t.Description)) : $"{t.DeviceApi}, weight {d.Weight}");
            }
        table.Write(term, (col, text) => col == 2 && text == "0" ? term.Paint(text, "33") : text);
        return ExitCodes.Ok;
    }

    private static string KnownParents(List<ParentDevice> parents) =>
        parents.Count == 0 ? "gvtd sees no mdev parent at all (gvtctl doctor)" : "parents: " + string.Join(", ", parents.Select(p => p.Name));

    // ------------------------------------------------------------------ plan

    private static int Plan(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect();
        var actions = gvtd.Call(GvtdClient.ManagerPath, GvtdClient.ManagerIface, "Plan", null,
            r => r.ReadArray("(sssss)", x =>
            {
                x.EnterContainer('r', "sssss");
                var a = (Action: x.ReadString(), Uuid: x.ReadString(), Type: x.ReadString(), Parent: x.ReadString(), Reason: x.ReadString());
                x.ExitContainer();
                return a;
            }), "asking gvtd for its plan");
        if (cl.Json)
        {
            Json.Write(term.Out, w =>
            {
                w.WriteStartArray();
                foreach (var a in actions)
                {
                    w.WriteStartObject();
                    w.WriteString("action", a.Action);
                    w.WriteString("uuid", a.Uuid);
                    w.WriteString("type", a.Type);
                    w.WriteString("parent", a.Parent);
                    w.WriteString("reason", a.Reason);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            });
            return ExitCodes.Ok;
        }
        if (actions.Count == 0)
        {
            term.Out.WriteLine("Nothing declared and nothing present: nothing to do.");
            return ExitCodes.Ok;
        }
        var table = new Table("ACTION", "UUID", "TYPE", "PARENT", "REASON");
        foreach (var a in actions)
            table.Add(a.Action, a.Uuid, a.Type, a.Parent, GvtdClient.OneLine(a.Reason));
        table.Write(term, (col, text) => col == 0 ? term.State(text) : text);
        return ExitCodes.Ok;
    }

    // ------------------------------------------------------------------ changing

    private static int Add(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect("TYPE");
        var type = cl.Operands[0];
        if (Identifiers.CheckType(type) is { } typeError) throw CommandLine.Usage("add: " + typeError);
        string uuid = "";
        if (cl.Uuid is not null)
            uuid = Identifiers.NormaliseUuid(cl.Uuid) ?? throw CommandLine.Usage($"add: '{cl.Uuid}' is not a UUID (uuidgen makes one)");
        string parent;
        if (cl.Parent is not null)
        {
            if (!Identifiers.TryNormaliseParent(cl.Parent, out parent, out var parentError)) throw CommandLine.Usage("add: " + parentError);
        }
        else
        {
            var parents = Objects(gvtd).Parents;
            parent = parents.Count == 1
                ? parents[0].Name
                : throw new CliException(ExitCodes.Usage, parents.Count == 0
                    ? "add: gvtd sees no mdev parent; give --parent, or check the GPU with gvtctl doctor"
                    : $"add: several parents, choose one with --parent: {string.Join(", ", parents.Select(p => p.Name))}");
        }
        var (newUuid, path) = gvtd.Call(GvtdClient.ManagerPath, GvtdClient.ManagerIface, "AddVGpu",
            w => { w.Write(uuid); w.Write(type); w.Write(parent); w.Write(cl.Runtime); },
            r => (r.ReadString(), r.ReadObjectPath()), "add a vGPU");
        if (cl.Json)
        {
            Json.Write(term.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("uuid", newUuid);
                w.WriteString("type", type);
                w.WriteString("parent", parent);
                w.WriteBoolean("runtime", cl.Runtime);
                w.WriteString("objectPath", path);
                w.WriteEndObject();
            });
        }
        else
        {
            term.Out.WriteLine(newUuid);
            Std.Err.WriteLine($"Declared {type} on {parent}{(cl.Runtime ? " until reboot" : "")}: gvtctl qemu-args {newUuid}");
        }
        return ExitCodes.Ok;
    }

    private static string RequireUuid(CommandLine cl)
    {
        cl.Expect("UUID");
        return Identifiers.NormaliseUuid(cl.Operands[0])
            ?? throw CommandLine.Usage($"{cl.Command}: '{cl.Operands[0]}' is not a UUID");
    }

    private static int Remove(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        var uuid = RequireUuid(cl);
        gvtd.Call(GvtdClient.ManagerPath, GvtdClient.ManagerIface, "RemoveVGpu", w => w.Write(uuid), "remove a vGPU");
        if (cl.Json)
            Json.Write(term.Out, w => { w.WriteStartObject(); w.WriteString("removed", uuid); w.WriteEndObject(); });
        else
            term.Out.WriteLine($"Removed {uuid} from gvtd's declarations.");
        return ExitCodes.Ok;
    }

    private static int Reconcile(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect();
        var (created, removed, failed) = gvtd.Call(GvtdClient.ManagerPath, GvtdClient.ManagerIface, "Reconcile", null,
            r => (r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32()), "run a pass");
        if (cl.Json)
            Json.Write(term.Out, w =>
            {
                w.WriteStartObject();
                w.WriteNumber("created", created);
                w.WriteNumber("removed", removed);
                w.WriteNumber("failed", failed);
                w.WriteEndObject();
            });
        else
            term.Out.WriteLine($"Pass done: created {created}, removed {removed}, failed {failed}{(failed > 0 ? " (gvtctl list shows the errors)" : "")}.");
        return ExitCodes.Ok;
    }

    private static int Reload(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        cl.Expect();
        gvtd.Call(GvtdClient.ManagerPath, GvtdClient.ManagerIface, "Reload", null, "reload the configuration");
        if (cl.Json)
            Json.Write(term.Out, w => { w.WriteStartObject(); w.WriteBoolean("reloaded", true); w.WriteEndObject(); });
        else
            term.Out.WriteLine("Reloaded; a pass has run.");
        return ExitCodes.Ok;
    }

    // ------------------------------------------------------------------ VM configuration

    private static (VGpu VGpu, ParentDevice? Parent) Find(CommandLine cl, GvtdClient gvtd)
    {
        var uuid = RequireUuid(cl);
        var (vgpus, parents) = Objects(gvtd);
        var vgpu = vgpus.FirstOrDefault(v => v.Uuid == uuid)
            ?? throw new CliException(ExitCodes.Failure, $"gvtd knows no vGPU {uuid} (gvtctl list shows them)");
        return (vgpu, parents.FirstOrDefault(p => p.Name == vgpu.Parent));
    }

    internal static string QemuDevice(VGpu vgpu, ParentDevice? parent)
    {
        var sysfs = vgpu.SysfsPath.Length > 0 ? vgpu.SysfsPath
            : parent is not null ? $"{parent.SysfsPath}/{vgpu.Uuid}" : $"/sys/bus/mdev/devices/{vgpu.Uuid}";
        var extra = parent?.IsGvtg == true ? ",display=on,x-igd-opregion=on" : "";
        return $"vfio-pci,sysfsdev={sysfs}{extra},rombar=0";
    }

    private static int QemuArgs(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        var (vgpu, parent) = Find(cl, gvtd);
        var device = QemuDevice(vgpu, parent);
        if (cl.Json)
            Json.Write(term.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("uuid", vgpu.Uuid);
                w.WriteStartArray("args");
                w.WriteStringValue("-device");
                w.WriteStringValue(device);
                w.WriteEndArray();
                w.WriteEndObject();
            });
        else
            term.Out.WriteLine($"-device {device}");
        return ExitCodes.Ok;
    }

    internal static string HostdevXml(VGpu vgpu, ParentDevice? parent) =>
        $"""
        <hostdev mode='subsystem' type='mdev' model='vfio-pci'{(parent?.IsGvtg == true ? " display='on'" : "")}>
          <source>
            <address uuid='{vgpu.Uuid}'/>
          </source>
        </hostdev>
        """;

    private static int LibvirtXml(CommandLine cl, Terminal term, GvtdClient gvtd)
    {
        var (vgpu, parent) = Find(cl, gvtd);
        var xml = HostdevXml(vgpu, parent);
        if (cl.Json)
            Json.Write(term.Out, w => { w.WriteStartObject(); w.WriteString("uuid", vgpu.Uuid); w.WriteString("xml", xml); w.WriteEndObject(); });
        else
            term.Out.WriteLine(xml);
        return ExitCodes.Ok;
    }
}
