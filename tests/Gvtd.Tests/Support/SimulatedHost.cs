using System.Text;
using Gvtd.Applying;
using Gvtd.DesiredState;
using Gvtd.Ownership;
using Gvtd.Reconcile;
using Gvtd.Simulation;
using Gvtd.Sysfs;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gvtd.Tests.Support;

/// <summary>
/// gvtd's pieces wired by hand over the simulated kernel in a temp dir: etc/vgpus.yaml, run/,
/// state/owned, sys/. Writes go through a recorder that can fail chosen creates.
/// </summary>
public sealed class SimulatedHost
{
    public SimulatedHost(TempDir dir, TimeSpan? writeTimeout = null, TimeProvider? time = null, SimulatedGpu gpu = SimulatedGpu.Gvtg)
    {
        Time = time ?? TimeProvider.System;
        Dir = dir;
        Core = SimulatedMdevCore.Open(dir.Combine("sys"), gpu);
        Writer = new RecordingWriter(Core, Core.Root.MdevDevices);
        // An empty /proc: gvtd sees every process there is, and none holds a device.
        Directory.CreateDirectory(dir.Combine("proc"));
        VfioUsers = new VfioUsers(dir.Combine("proc"), dir.Combine("dev"));
        Reader = new SysfsReader(Core.Root, VfioUsers);
        Store = new DesiredStateStore(Yaml.Loader(dir), NullLogger<DesiredStateStore>.Instance);
        Ledger = OwnershipLedger.Load(dir.Combine("state"), _ => { });
        // Without a chosen timeout no write is meant to stick: on the real clock a minute is a hang
        // guard, so a write the busy machine runs late is never taken for one the kernel holds.
        Applier = new Applier(Writer, writeTimeout ?? TimeSpan.FromSeconds(60), Time, NullLogger<Applier>.Instance);
        Reconciler = new Reconciler(Store, Reader, Applier, new FunctionApplier(Applier, Core.Root, NullLogger<FunctionApplier>.Instance), Ledger, Time, NullLogger<Reconciler>.Instance);
    }

    public const string Gpu = "0000:00:02.0";

    public TimeProvider Time { get; }
    public TempDir Dir { get; }
    public SimulatedMdevCore Core { get; }
    public RecordingWriter Writer { get; }
    public VfioUsers VfioUsers { get; }
    public SysfsReader Reader { get; }
    public DesiredStateStore Store { get; }
    public OwnershipLedger Ledger { get; }
    public Reconciler Reconciler { get; }
    public Applier Applier { get; }

    public string ConfigPath => Dir.Combine(Yaml.MainFile);
    public string LedgerPath => Dir.Combine("state", "owned");

    public bool Configure(string yaml)
    {
        Dir.Write(Yaml.MainFile, yaml);
        return Store.Reload();
    }

    public Task<PassResult> PassAsync(bool explicitRequest = false) => Reconciler.RunPassAsync("test", explicitRequest);

    public IReadOnlyCollection<string> Devices => Reader.Read().Devices.Keys.Order().ToList();

    /// <summary>Makes a device the way a person would, behind gvtd's back.</summary>
    public void CreateByHand(string uuid, string type) =>
        Core.Write(SysfsRoot.CreateFile(Reader.Read().Parents[Gpu].SysfsPath, type), uuid);

    /// <summary>Every entry of the simulated sysfs with its link target or contents, to compare whole trees.</summary>
    public string TreeSnapshot()
    {
        var text = new StringBuilder();
        foreach (var path in Directory.EnumerateFileSystemEntries(Core.Root.Root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(path);
            text.Append(path).Append(" -> ").AppendLine(info.LinkTarget ?? (File.Exists(path) ? File.ReadAllText(path) : "<dir>"));
        }
        return text.ToString();
    }

    /// <summary>Makes process <paramref name="pid"/> hold a VFIO node (the group of a VF, as a VM does) open, in the host's /proc.</summary>
    public void HoldOpen(int pid, string target)
    {
        var fd = Dir.Combine("proc", pid.ToString(), "fd");
        Directory.CreateDirectory(fd);
        File.CreateSymbolicLink(Path.Combine(fd, "3"), target);
    }

    public void Release(int pid) => Directory.Delete(Dir.Combine("proc", pid.ToString()), recursive: true);

    public string LedgerText => File.Exists(LedgerPath) ? File.ReadAllText(LedgerPath) : "<none>";

    public sealed class RecordingWriter(IKernel inner, string busDevices) : IKernel
    {
        /// <summary>
        /// While set, a remove acts as Linux 6.1 does while a VFIO user holds the device: the
        /// bus/mdev/devices link goes at once, and the write waits for this gate.
        /// </summary>
        public ManualResetEventSlim? HeldRemoveGate { get; set; }

        public List<(string Path, string Value)> Writes { get; } = [];

        /// <summary>Called before each write reaches the kernel (to look at gvtd's files at that moment).</summary>
        public Action<string, string>? BeforeWrite { get; set; }

        /// <summary>Creates of these UUIDs are refused with EINVAL, once each.</summary>
        public HashSet<string> FailNextCreate { get; } = [];

        public IDisposable? Listen(Action<Uevent> onEvent, Action<string> onStopped, out string? error) => inner.Listen(onEvent, onStopped, out error);

        public int CreatesOf(string uuid) => Writes.Count(w => w.Path.EndsWith("/create") && w.Value == uuid);

        public void Write(string path, string value)
        {
            lock (Writes) Writes.Add((path, value));
            BeforeWrite?.Invoke(path, value);
            if (path.EndsWith("/create") && FailNextCreate.Remove(value))
                throw new KernelWriteException(path, Errno.EINVAL, "Invalid argument");
            if (path.EndsWith("/remove") && HeldRemoveGate is { } gate)
            {
                File.Delete(Path.Combine(busDevices, Path.GetFileName(Path.GetDirectoryName(path)!)));
                gate.Wait();
            }
            inner.Write(path, value);
        }
    }
}
