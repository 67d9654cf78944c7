using Gvtd.Commands;
using Gvtd.Contract;
using Gvtd.Reconcile;
using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>
/// /org/gvtd/Gvtd1/Manager. Handlers read their arguments, check authorisation, call one command
/// and reply; they hold no logic of their own. Work that reads sysfs or waits for a pass runs on
/// the thread pool, so the connection keeps reading other calls meanwhile.
/// </summary>
internal sealed class ManagerObject(ManagerCommands commands, Authorizer authorizer, Func<IReadOnlyList<VGpuRow>> listed, Func<string, string> vgpuPath,
    Func<IReadOnlyList<FunctionRow>> listedFunctions)
{
    public BusInterface<StatusSnapshot> Interface() => new BusInterface<StatusSnapshot>(BusNames.ManagerInterface, Properties)
        .WithMethod("Reconcile", "", "uuu", [], ["created", "removed", "failed"], Reconcile)
        .WithMethod("Reload", "", "", [], [], Reload)
        .WithMethod("Plan", "", PlanRow.ArraySignature, [], ["actions"], Plan)
        .WithMethod("ListVGpus", "", VGpuRow.ArraySignature, [], ["vgpus"], ListVGpus)
        .WithMethod("ListFunctions", "", FunctionRow.ArraySignature, [], ["functions"], ListFunctions)
        .WithMethod("PlanFunctions", "", FunctionPlanRow.ArraySignature, [], ["actions"], PlanFunctions)
        .WithMethod("PreviewAddVGpu", "sss", PlanRow.ArraySignature, ["uuid", "type", "parent"], ["actions"], PreviewAddVGpu)
        .WithMethod("AddVGpu", "sssb", "so", ["uuid", "type", "parent", "runtime"], ["uuid", "path"], AddVGpu)
        .WithMethod("RemoveVGpu", "s", "", ["uuid"], [], RemoveVGpu)
        .WithSignal("ReconcileFinished", "uuu", ["created", "removed", "failed"]);

    public static void WriteCounts(ref MessageWriter writer, PassResult result)
    {
        writer.WriteUInt32((uint)result.Created);
        writer.WriteUInt32((uint)result.Removed);
        writer.WriteUInt32((uint)result.Failed);
    }

    private Task Reconcile(BusCall call) => Privileged(call, async () =>
    {
        var result = await commands.ReconcileAsync();
        call.Reply((ref MessageWriter w) => WriteCounts(ref w, result));
    });

    private Task Reload(BusCall call) => Privileged(call, async () =>
    {
        await commands.ReloadAsync();
        call.Reply();
    });

    /// <summary>Open to anyone: the read behind it is shared with every caller asking at the same time (PlanPreview).</summary>
    private Task Plan(BusCall call) => Refusable(call, async () =>
    {
        var rows = (await commands.PlanAsync()).Select(a => new PlanRow(a.KindName, a.Uuid, a.Type, a.Parent, a.Reason)).ToList();
        call.Reply((ref MessageWriter w) => PlanRow.WriteArray(ref w, rows));
    });

    /// <summary>Read-only, like Plan: anyone may ask what an add would do.</summary>
    private Task PreviewAddVGpu(BusCall call)
    {
        var args = call.Arguments();
        var (uuid, type, parent) = (args.ReadString(), args.ReadString(), args.ReadString());
        return Refusable(call, async () =>
        {
            var rows = (await commands.PreviewAddAsync(uuid, type, parent)).Select(a => new PlanRow(a.KindName, a.Uuid, a.Type, a.Parent, a.Reason)).ToList();
            call.Reply((ref MessageWriter w) => PlanRow.WriteArray(ref w, rows));
        });
    }

    private Task PlanFunctions(BusCall call) => Refusable(call, async () =>
    {
        var rows = (await commands.PlanFunctionsAsync()).Select(a => new FunctionPlanRow(a.KindName, a.Address, a.Reason)).ToList();
        call.Reply((ref MessageWriter w) => FunctionPlanRow.WriteArray(ref w, rows));
    });

    private Task ListFunctions(BusCall call)
    {
        var rows = listedFunctions();
        call.Reply((ref MessageWriter w) => FunctionRow.WriteArray(ref w, rows));
        return Task.CompletedTask;
    }

    /// <summary>The rows are made once per published snapshot, not once per call.</summary>
    private Task ListVGpus(BusCall call)
    {
        var rows = listed();
        call.Reply((ref MessageWriter w) => VGpuRow.WriteArray(ref w, rows));
        return Task.CompletedTask;
    }

    private Task AddVGpu(BusCall call)
    {
        var args = call.Arguments();
        var (uuid, type, parent, runtime) = (args.ReadString(), args.ReadString(), args.ReadString(), args.ReadBool());
        return Privileged(call, async () =>
        {
            var created = await commands.AddAsync(uuid, type, parent, runtime);
            call.Reply((ref MessageWriter w) =>
            {
                w.WriteString(created);
                w.WriteObjectPath(vgpuPath(created));
            });
        });
    }

    private Task RemoveVGpu(BusCall call)
    {
        var uuid = call.Arguments().ReadString();
        return Privileged(call, async () =>
        {
            await commands.RemoveAsync(uuid);
            call.Reply();
        });
    }

    private async Task Privileged(BusCall call, Func<Task> work)
    {
        if (await authorizer.AuthorizeAsync(call))
            await Refusable(call, work);
    }

    /// <summary>A refused command is answered with its own error name and message; anything else is a bug (BusCall says Failed).</summary>
    private static async Task Refusable(BusCall call, Func<Task> work)
    {
        try
        {
            await work();
        }
        catch (CommandException e)
        {
            call.ReplyError(ErrorName(e.Error), e.Message);
        }
    }

    private static string ErrorName(CommandError error) => error switch
    {
        CommandError.InvalidArgs => BusErrors.InvalidArgs,
        CommandError.InvalidConfig => BusErrors.InvalidConfig,
        CommandError.NoSuchVGpu => BusErrors.NoSuchVGpu,
        CommandError.InUse => BusErrors.InUse,
        CommandError.NoCapacity => BusErrors.NoCapacity,
        CommandError.NotOwned => BusErrors.NotOwned,
        CommandError.CannotKnow => BusErrors.Failed, // the message says why; there is no better-known name
        _ => BusErrors.Failed,
    };

    private static ulong Microseconds(TimeSpan t) => (ulong)(t.Ticks / TimeSpan.TicksPerMicrosecond);

    private static readonly PropertyTable<StatusSnapshot> Properties = new(
        PropertyTable<StatusSnapshot>.String("Version", _ => Program.Version, isConst: true),
        PropertyTable<StatusSnapshot>.String("State", s => s.State.ToString().ToLowerInvariant()),
        PropertyTable<StatusSnapshot>.String("ConfigError", s => s.ConfigError),
        PropertyTable<StatusSnapshot>.Strings("ConfigFiles", s => s.ConfigFiles),
        PropertyTable<StatusSnapshot>.UInt64("Interval", s => Microseconds(s.Settings.Interval)),
        PropertyTable<StatusSnapshot>.String("Prune", s => s.Settings.Prune.ToString().ToLowerInvariant()),
        PropertyTable<StatusSnapshot>.UInt64("LastReconcile", s => s.LastReconcile is { } t ? Microseconds(t - DateTimeOffset.UnixEpoch) : 0UL),
        PropertyTable<StatusSnapshot>.UInt32("Desired", s => (uint)s.Desired),
        PropertyTable<StatusSnapshot>.UInt32("Active", s => (uint)s.Active),
        PropertyTable<StatusSnapshot>.UInt32("Failed", s => (uint)s.Failed),
        PropertyTable<StatusSnapshot>.Strings("AwaitedParents", s => s.AwaitedParents),
        PropertyTable<StatusSnapshot>.String("StatusText", s => s.Summary),
        PropertyTable<StatusSnapshot>.String("Sleep", s => DesiredState.Settings.SleepName(s.Settings.Sleep)),
        PropertyTable<StatusSnapshot>.String("SleepState", s => s.Sleep.State),
        PropertyTable<StatusSnapshot>.Bool("SleepInhibitor", s => s.Sleep.InhibitorHeld),
        PropertyTable<StatusSnapshot>.Strings("SetAside", s => s.Sleep.SetAside),
        PropertyTable<StatusSnapshot>.UInt64("Generation", s => (ulong)s.Generation));
}
