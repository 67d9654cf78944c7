using Gvtd.Commands;
using Gvtd.DesiredState;
using Gvtd.Interop;
using Gvtd.Reconcile;
using Microsoft.Extensions.Logging;

namespace Gvtd.Bus;

/// <summary>
/// /org/gvtd/Gvtd1/Manager. Handlers unpack arguments, check authorisation, call one command and
/// reply; the work runs off the bus thread and the reply is sent when it is done.
/// </summary>
internal sealed class ManagerObject(ManagerCommands commands, Authorizer authorizer, VGpuObjects vgpus, ILogger logger)
{
    private StatusSnapshot _published = StatusSnapshot.Initial;

    public void Export(BusConnection bus) => bus.AddObject(BusNames.ManagerPath, Interface());

    public void Update(BusConnection bus, StatusSnapshot snapshot)
    {
        var changed = Properties.Changed(_published, snapshot);
        _published = snapshot;
        if (changed.Length > 0) bus.EmitPropertiesChanged(BusNames.ManagerPath, BusNames.ManagerInterface, changed);
    }

    public static void EmitReconcileFinished(BusConnection bus, PassResult result) =>
        bus.EmitSignal(BusNames.ManagerPath, BusNames.ManagerInterface, "ReconcileFinished", w =>
        {
            w.Write((uint)result.Created);
            w.Write((uint)result.Removed);
            w.Write((uint)result.Failed);
        });

    private void MethodReconcile(MethodCall call) => Privileged(call, async () =>
    {
        var result = await commands.ReconcileAsync();
        call.Reply(w =>
        {
            w.Write((uint)result.Created);
            w.Write((uint)result.Removed);
            w.Write((uint)result.Failed);
        });
    });

    private void MethodReload(MethodCall call) => Privileged(call, async () =>
    {
        await commands.ReloadAsync();
        call.Reply();
    });

    private void MethodPlan(MethodCall call) => OffBusThread(call, () =>
    {
        var plan = commands.Plan();
        call.Reply(w =>
        {
            w.OpenArray("(sssss)");
            foreach (var action in plan)
            {
                w.OpenStruct("sssss");
                w.Write(action.KindName);
                w.Write(action.Uuid);
                w.Write(action.Type);
                w.Write(action.Parent);
                w.Write(action.Reason);
                w.Close();
            }
            w.Close();
        });
        return Task.CompletedTask;
    });

    private void MethodListVGpus(MethodCall call) => call.Reply(w =>
    {
        w.OpenArray("(ssssso)");
        foreach (var v in _published.VGpus)
        {
            w.OpenStruct("ssssso");
            w.Write(v.Uuid);
            w.Write(v.Type);
            w.Write(v.Parent);
            w.Write(v.State.ToString().ToLowerInvariant());
            w.Write(v.Name);
            w.WriteObjectPath(vgpus.PathOf(v.Uuid));
            w.Close();
        }
        w.Close();
    });

    private void MethodAddVGpu(MethodCall call)
    {
        var (uuid, type, parent, runtime) = (call.Args.ReadString(), call.Args.ReadString(), call.Args.ReadString(), call.Args.ReadBool());
        Privileged(call, async () =>
        {
            var created = await commands.AddAsync(uuid, type, parent, runtime);
            call.Reply(w =>
            {
                w.Write(created);
                w.WriteObjectPath(vgpus.PathOf(created));
            });
        });
    }

    private void MethodRemoveVGpu(MethodCall call)
    {
        var uuid = call.Args.ReadString();
        Privileged(call, async () =>
        {
            await commands.RemoveAsync(uuid);
            call.Reply();
        });
    }

    private void Privileged(MethodCall call, Func<Task> work) =>
        authorizer.Authorize(call, () => OffBusThread(call, work));

    /// <summary>Runs work on the pool and turns refusals into their D-Bus errors; bugs become a plain Failed.</summary>
    private void OffBusThread(MethodCall call, Func<Task> work) => _ = Task.Run(async () =>
    {
        try
        {
            await work();
        }
        catch (CommandException e)
        {
            logger.LogDebug("{Member} refused: {Message}", call.Member, e.Message);
            call.ReplyError(ErrorName(e.Error), e.Message);
        }
        catch (Exception e)
        {
            logger.LogError(e, "{Member} failed unexpectedly", call.Member);
            call.ReplyError(BusErrors.Failed, $"{call.Member} failed because of an internal error; the journal has details (journalctl -u gvtd)");
        }
    });

    private static string ErrorName(CommandError error) => error switch
    {
        CommandError.InvalidArgs => BusErrors.InvalidArgs,
        CommandError.InvalidConfig => GvtdErrors.InvalidConfig,
        CommandError.NoSuchVGpu => GvtdErrors.NoSuchVGpu,
        CommandError.InUse => GvtdErrors.InUse,
        CommandError.NoCapacity => GvtdErrors.NoCapacity,
        CommandError.NotOwned => GvtdErrors.NotOwned,
        _ => BusErrors.Failed,
    };

    private static readonly PropertyTable<StatusSnapshot> Properties = new(
        new("Version", "s", _ => Program.Version, Const: true),
        new("State", "s", s => s.State.ToString().ToLowerInvariant()),
        new("ConfigError", "s", s => s.ConfigError),
        new("ConfigFiles", "as", s => s.ConfigFiles),
        new("Interval", "t", s => (ulong)(s.Settings.Interval.Ticks / TimeSpan.TicksPerMicrosecond)),
        new("Prune", "s", s => s.Settings.Prune.ToString().ToLowerInvariant()),
        new("LastReconcile", "t", s => s.LastReconcile is { } t ? (ulong)((t - DateTimeOffset.UnixEpoch).Ticks / TimeSpan.TicksPerMicrosecond) : 0UL),
        new("Desired", "u", s => (uint)s.Desired),
        new("Active", "u", s => (uint)s.Active),
        new("Failed", "u", s => (uint)s.Failed));

    private BusInterface Interface() => Properties.AddTo(new BusInterface(BusNames.ManagerInterface)
        .Method("Reconcile", "", "uuu", [], ["created", "removed", "failed"], MethodReconcile)
        .Method("Reload", "", "", [], [], MethodReload)
        .Method("Plan", "", "a(sssss)", [], ["actions"], MethodPlan)
        .Method("ListVGpus", "", "a(ssssso)", [], ["vgpus"], MethodListVGpus)
        .Method("AddVGpu", "sssb", "so", ["uuid", "type", "parent", "runtime"], ["uuid", "path"], MethodAddVGpu)
        .Method("RemoveVGpu", "s", "", ["uuid"], [], MethodRemoveVGpu)
        .Signal("ReconcileFinished", "uuu", ["created", "removed", "failed"]),
        _ => _published);
}
