// Times what the kernel's events buy, on the simulated GPU with an interval of an hour (so only
// events can be what acts): the parent appearing (driver loaded) until its declared vGPUs exist,
// a vGPU removed by hand until it is back, and on the simulated Gen12 iGPU a declared SR-IOV PF's
// driver binding until its VFs are bound to vfio-pci. Prints one JSON object of medians in milliseconds.
using System.Diagnostics;
using System.Text.Json;
using Gvtd.Applying;
using Gvtd.DesiredState;
using Gvtd.Ownership;
using Gvtd.Reconcile;
using Gvtd.Simulation;
using Gvtd.Sysfs;
using Gvtd.Systemd;
using Microsoft.Extensions.Logging.Abstractions;

const int Runs = 20;
var dir = Directory.CreateTempSubdirectory("gvtd-bench-events-").FullName;
try
{
    string[] uuids = [.. Enumerable.Range(1, 4).Select(i => $"00000000-0000-4000-8000-00000000000{i}")];
    Directory.CreateDirectory(Path.Combine(dir, "etc"));
    Directory.CreateDirectory(Path.Combine(dir, "proc"));
    File.WriteAllText(Path.Combine(dir, "etc", "vgpus.yaml"), "settings:\n  interval: 1h\nvgpus:\n"
        + string.Concat(uuids.Select(u => $"  - uuid: {u}\n    type: i915-GVTg_V5_8\n    parent: \"0000:00:02.0\"\n")));

    var core = SimulatedMdevCore.Open(Path.Combine(dir, "sys"));
    var (reader, worker) = Wire(dir, core);
    using var _ = worker;
    await worker.StartAsync(CancellationToken.None);

    bool AllThere() => uuids.All(reader.Read().Devices.ContainsKey);
    double Time(Action act)
    {
        var watch = Stopwatch.StartNew();
        act();
        while (!AllThere())
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("the vGPUs did not come back within 30 s");
            Thread.Sleep(1);
        }
        return watch.Elapsed.TotalMilliseconds;
    }
    double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);

    List<double> appeared = [], returned = [];
    for (var run = 0; run < Runs; run++)
    {
        core.Unplug();
        appeared.Add(Time(core.Replug));
        var victim = reader.Read().Devices[uuids[run % uuids.Length]];
        returned.Add(Time(() => core.Write(Path.Combine(victim.SysfsPath, "remove"), "1")));
    }
    await worker.StopAsync(CancellationToken.None);

    var pfBound = await SriovFigure(Path.Combine(dir, "gen12"));

    // What each pass pays to learn whether the files changed, against what a reload costs, on a
    // file of 1,000 declarations (the reason passes check rather than reload unconditionally).
    var big = Path.Combine(dir, "big", "vgpus.yaml");
    Directory.CreateDirectory(Path.GetDirectoryName(big)!);
    File.WriteAllText(big, "vgpus:\n" + string.Concat(Enumerable.Range(0, 1000).Select(i =>
        $"  - uuid: 00000000-0000-4000-8000-{i:x12}\n    type: i915-GVTg_V5_8\n    parent: \"0000:00:02.0\"\n")));
    var bigStore = new DesiredStateStore(new DesiredStateLoader(big, Path.Combine(dir, "big-run")), NullLogger<DesiredStateStore>.Instance);
    bigStore.Reload();
    List<double> checks = [], reloads = [];
    for (var run = 0; run < 200; run++)
    {
        var watch = Stopwatch.StartNew();
        bigStore.ReloadIfChanged();
        checks.Add(watch.Elapsed.TotalMilliseconds);
        watch.Restart();
        bigStore.Reload();
        reloads.Add(watch.Elapsed.TotalMilliseconds);
    }

    Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, double>
    {
        ["parentAppearedMs"] = Median(appeared),
        ["removalReturnedMs"] = Median(returned),
        ["unchangedCheckMs"] = Median(checks),
        ["reloadMs"] = Median(reloads),
        ["pfBoundToVfsBoundMs"] = pfBound,
    }));
}
finally
{
    Directory.Delete(dir, recursive: true);
}

// A declared PF (7 VFs) whose driver binds: until every VF is on vfio-pci. Median of 20; between
// runs the driver is unbound and the VFs set to 0, as a driver reload at boot finds them.
static async Task<double> SriovFigure(string dir)
{
    const string pf = "0000:00:02.0";
    Directory.CreateDirectory(Path.Combine(dir, "etc"));
    Directory.CreateDirectory(Path.Combine(dir, "proc"));
    File.WriteAllText(Path.Combine(dir, "etc", "vgpus.yaml"), $"settings:\n  interval: 1h\nsriov:\n  - pf: \"{pf}\"\n    vfs: 7\n");
    var core = SimulatedMdevCore.Open(Path.Combine(dir, "sys"), SimulatedGpu.Gen12);
    core.UnbindPf();
    var (reader, worker) = Wire(dir, core);
    using var _ = worker;
    await worker.StartAsync(CancellationToken.None);
    var only = new HashSet<string> { pf };
    bool AllBound() => reader.Read(functions: only).Sriov.Functions.TryGetValue(pf, out var f) && f.NumVfs == 7 && f.Vfs.All(v => v.Driver == "vfio-pci");
    var times = new List<double>();
    for (var run = 0; run < 20; run++)
    {
        var watch = Stopwatch.StartNew();
        core.BindPf();
        while (!AllBound())
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("the VFs were not bound within 30 s");
            Thread.Sleep(1);
        }
        times.Add(watch.Elapsed.TotalMilliseconds);
        // Unbound with its VFs set to 0, in one settle window, so the next bind starts from nothing.
        core.Write(Path.Combine(core.Root.PciDevice(pf), "sriov_numvfs"), "0");
        core.UnbindPf();
        Thread.Sleep(400);
    }
    await worker.StopAsync(CancellationToken.None);
    return times.Order().ElementAt(times.Count / 2);
}

// gvtd's pieces over a simulated kernel, as the daemon wires them: DIR/etc/vgpus.yaml, DIR/state, DIR/proc (empty).
static (SysfsReader Reader, ReconcileWorker Worker) Wire(string dir, SimulatedMdevCore core)
{
    var vfio = new VfioUsers(Path.Combine(dir, "proc"), Path.Combine(dir, "dev"));
    var reader = new SysfsReader(core.Root, vfio);
    var store = new DesiredStateStore(new DesiredStateLoader(Path.Combine(dir, "etc", "vgpus.yaml"), Path.Combine(dir, "run")), NullLogger<DesiredStateStore>.Instance);
    var applier = new Applier(core, TimeSpan.FromSeconds(10), TimeProvider.System, NullLogger<Applier>.Instance);
    var reconciler = new Reconciler(store, reader, applier, new FunctionApplier(applier, core.Root, NullLogger<FunctionApplier>.Instance),
        OwnershipLedger.Load(Path.Combine(dir, "state"), _ => { }), TimeProvider.System, NullLogger<Reconciler>.Instance);
    return (reader, new ReconcileWorker(store, reconciler, applier, core, vfio, new ServiceManager(null, null), TimeProvider.System, NullLogger<ReconcileWorker>.Instance));
}
