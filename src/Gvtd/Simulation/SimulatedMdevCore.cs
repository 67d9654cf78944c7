using Gvtd.Sysfs;

namespace Gvtd.Simulation;

/// <summary>
/// An in-process model of the kernel's mdev core with one GVT-g GPU, exposed the way the real one
/// is: as a sysfs tree on disk (laid out like the capture in docs/kernel/captures) whose create and
/// remove files respond to writes with the kernel's errno. The tree survives a daemon restart, as
/// real devices do; it is what --simulate points the ordinary sysfs reader at. It raises the
/// uevents the real mdev core does (docs/kernel/uevents.md), and tests can
/// unplug and replug its GPU as a driver unload and reload would.
/// </summary>
/// <summary>The GPU a simulated host has.</summary>
public enum SimulatedGpu
{
    /// <summary>A Kaby Lake iGPU with GVT-g: mediated devices.</summary>
    Gvtg,
    /// <summary>A Tiger Lake iGPU with SR-IOV (the i915 SR-IOV build): virtual functions, and no GVT-g.</summary>
    Gen12,
}

public sealed class SimulatedMdevCore : IKernel
{
    private const string Marker = ".gvtd-simulated";
    private readonly object _lock = new();
    private readonly SysfsRoot _root;
    private readonly string _parentPath;
    private readonly Dictionary<string, SimulatedGvtGpu.VGpuType> _devices = new(StringComparer.Ordinal);
    private int _nextIommuGroup;
    private readonly List<Action<Uevent>> _listeners = [];
    private readonly List<Uevent> _raised = [];

    private readonly SimulatedSriovGpu? _sriov;

    private SimulatedMdevCore(SysfsRoot root, SimulatedGpu gpu)
    {
        _root = root;
        _parentPath = Path.Combine(root.Root, "devices", "pci0000:00", SimulatedGvtGpu.PciAddress);
        Gpu = gpu;
        if (gpu == SimulatedGpu.Gen12) _sriov = new SimulatedSriovGpu(root, _raised.Add);
    }

    public SysfsRoot Root => _root;

    public SimulatedGpu Gpu { get; }

    /// <summary>
    /// Builds the tree in an empty or missing directory, or takes up the one a previous run left
    /// (with the GPU it was made with).
    /// </summary>
    public static SimulatedMdevCore Open(string directory, SimulatedGpu gpu = SimulatedGpu.Gvtg)
    {
        var marker = Path.Combine(directory, Marker);
        if (File.Exists(marker) && File.ReadAllText(marker).Contains("gen12")) gpu = SimulatedGpu.Gen12;
        else if (File.Exists(marker)) gpu = SimulatedGpu.Gvtg;
        var core = new SimulatedMdevCore(new SysfsRoot(directory), gpu);
        if (File.Exists(marker))
            core.LoadExisting();
        else if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
            throw new InvalidOperationException($"{directory} is not empty and was not made by gvtd's simulator; pick an empty directory");
        else
            core.Build();
        return core;
    }

    public IDisposable? Listen(Action<Uevent> onEvent, Action<string> onStopped, out string? error)
    {
        error = null;
        lock (_lock) _listeners.Add(onEvent);
        return new Undo(() => { lock (_lock) _listeners.Remove(onEvent); });
    }

    private sealed class Undo(Action undo) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) undo();
        }
    }

    /// <summary>
    /// SR-IOV only: as an unbind of VF <paramref name="vf"/> does while a VM holds its VFIO device
    /// (`driverctl`, or a manager's detach): the VM is a process in <paramref name="procRoot"/> (the
    /// /proc gvtd scans) holding the VF's group; until disposed, the unbind waits holding the VF's
    /// device lock, so reading the VF's driver_override blocks, as in Linux 6.1, and so do writes that
    /// take that lock; disposing is the VM letting go, and leaves the VF with no driver.
    /// </summary>
    public IDisposable BeginStuckUnbind(string vf, string procRoot)
    {
        lock (_lock) Sriov.BeginStuckUnbind(vf, procRoot);
        return new Undo(() =>
        {
            lock (_lock) Sriov.EndStuckUnbind(vf, procRoot);
            Deliver();
        });
    }

    /// <summary>
    /// SR-IOV only: as a VM opening VF <paramref name="vf"/>'s VFIO group: a process in
    /// <paramref name="procRoot"/> holds it, until the end of a <see cref="BeginStuckUnbind"/> (which holds it anyway).
    /// </summary>
    public void HoldByVm(string vf, string procRoot)
    {
        lock (_lock) Sriov.HoldByVm(vf, procRoot);
    }

    /// <summary>SR-IOV only: the writes (any process's) that found <paramref name="vf"/>'s device lock held and waited, as "path value" lines.</summary>
    public IReadOnlyList<string> WritesThatWaited(string vf)
    {
        lock (_lock) return Sriov.WritesThatWaited(vf);
    }

    private int _waitingOnDeviceLocks;

    /// <summary>Writes through this simulator waiting now for a device lock an unbind holds (a test's proof that one blocks).</summary>
    public int WritesWaitingOnDeviceLocks => Volatile.Read(ref _waitingOnDeviceLocks);

    /// <summary>SR-IOV only: as unbinding the PF's driver does (its VFs stay).</summary>
    public void UnbindPf()
    {
        lock (_lock) Sriov.UnbindPf();
        Deliver();
    }

    /// <summary>SR-IOV only: as the PF's driver binding (late) does.</summary>
    public void BindPf()
    {
        lock (_lock) Sriov.BindPf();
        Deliver();
    }

    private SimulatedSriovGpu Sriov => _sriov ?? throw new InvalidOperationException("this simulated GPU has no SR-IOV");

    /// <summary>As unloading the GPU's driver does: its vGPUs go, then the parent unregisters.</summary>
    public void Unplug()
    {
        lock (_lock)
        {
            foreach (var uuid in _devices.Keys.ToList()) RemoveDevice(uuid);
            File.Delete(Path.Combine(_root.MdevBusClass, SimulatedGvtGpu.PciAddress));
            RaiseParentState("unregistered");
        }
        Deliver();
    }

    /// <summary>As loading the driver again does: the parent registers, with no vGPUs.</summary>
    public void Replug()
    {
        lock (_lock)
        {
            File.CreateSymbolicLink(Path.Combine(_root.MdevBusClass, SimulatedGvtGpu.PciAddress), $"../../devices/pci0000:00/{SimulatedGvtGpu.PciAddress}");
            RaiseParentState("registered");
        }
        Deliver();
    }

    private string DevPath(string? uuid = null) =>
        "/devices/pci0000:00/" + SimulatedGvtGpu.PciAddress + (uuid is null ? "" : "/" + uuid);

    private void RaiseParentState(string state) =>
        _raised.Add(new Uevent("change", DevPath(), new Dictionary<string, string> { ["SUBSYSTEM"] = "pci", ["MDEV_STATE"] = state }));

    private void RaiseDevice(string action, string uuid) =>
        _raised.Add(new Uevent(action, DevPath(uuid), new Dictionary<string, string> { ["SUBSYSTEM"] = "mdev", ["MDEV_TYPE"] = "" }));

    /// <summary>Outside the lock and off the writer's thread, as the kernel's netlink delivery is.</summary>
    private void Deliver()
    {
        List<Uevent> events;
        List<Action<Uevent>> listeners;
        lock (_lock)
        {
            events = [.. _raised];
            _raised.Clear();
            listeners = [.. _listeners];
        }
        if (events.Count > 0 && listeners.Count > 0)
        {
            Interlocked.Increment(ref _deliveries);
            ThreadPool.QueueUserWorkItem(_ =>
            {
                try
                {
                    foreach (var e in events)
                        foreach (var listener in listeners)
                            listener(e);
                }
                finally
                {
                    Interlocked.Decrement(ref _deliveries);
                }
            });
        }
    }

    private int _deliveries;

    /// <summary>
    /// Batches of uevents raised and not yet handed to every listener. Tests that drive a fake clock
    /// wait for 0 before moving it, so no uevent arrives late on gvtd's clock because the pool was slow.
    /// </summary>
    internal int DeliveriesInFlight => Volatile.Read(ref _deliveries);

    public void Write(string path, string value)
    {
        try
        {
            // A write that takes a device lock an unbind holds waits, as in the kernel: outside the
            // simulator's lock, so that other devices' writes go on meanwhile.
            while (WriteLocked(path, value) is { Count: > 0 } locked)
            {
                Interlocked.Increment(ref _waitingOnDeviceLocks);
                try
                {
                    SimulatedSriovGpu.WaitForDeviceLocks(locked, path, value);
                }
                finally
                {
                    Interlocked.Decrement(ref _waitingOnDeviceLocks);
                }
            }
        }
        finally
        {
            Deliver();
        }
    }

    /// <summary>Writes, or returns the device locks held that the write must wait for (then nothing is written).</summary>
    private IReadOnlyList<string>? WriteLocked(string path, string value)
    {
        lock (_lock)
        {
            var full = Path.GetFullPath(path);
            var typeId = Path.GetFileName(Path.GetDirectoryName(full));
            if (_sriov is not null && _sriov.Handles(Resolved(full)))
            {
                if (_sriov.LockedBy(Resolved(full), value) is { Count: > 0 } locked) return locked;
                _sriov.Write(Resolved(full), value);
            }
            else if (Path.GetFileName(full) == "create" && SimulatedGvtGpu.Types.FirstOrDefault(t => t.Id == typeId) is { } type
                && full == SysfsRoot.CreateFile(_parentPath, type.Id))
                Create(full, type, value);
            else if (Path.GetFileName(full) == "remove" && Path.GetDirectoryName(Path.GetDirectoryName(full)) == _parentPath)
                Remove(full, Path.GetFileName(Path.GetDirectoryName(full)!), value);
            else if (!File.Exists(full))
                throw new KernelWriteException(path, Errno.ENOENT, "No such file or directory");
            else
                throw new KernelWriteException(path, Errno.EACCES, "Permission denied");
            return null;
        }
    }

    /// <summary>The path with its directory's links followed (a VF's files are reached through /sys/bus/pci/devices).</summary>
    private static string Resolved(string path)
    {
        var dir = Path.GetDirectoryName(path)!;
        var real = Directory.Exists(dir) ? new DirectoryInfo(dir).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? dir : dir;
        return Path.Combine(real, Path.GetFileName(path));
    }

    private void Create(string path, SimulatedGvtGpu.VGpuType type, string value)
    {
        // mdev core create_store: 36 characters, optionally one more (the newline); upper case is accepted.
        var text = value.EndsWith('\n') ? value[..^1] : value;
        if (text.Length != 36 || !Guid.TryParseExact(text, "D", out var guid))
            throw new KernelWriteException(path, Errno.EINVAL, "Invalid argument");
        var uuid = guid.ToString("D");
        if (_devices.ContainsKey(uuid))
            throw new KernelWriteException(path, Errno.EEXIST, "File exists");
        if (SimulatedGvtGpu.AvailableInstances(type, _devices.Values) <= 0)
            throw new KernelWriteException(path, Errno.ENOSPC, "No space left on device");

        _devices[uuid] = type;
        var dir = Path.Combine(_parentPath, uuid);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "remove"), "");
        File.WriteAllText(Path.Combine(dir, "uevent"), "DRIVER=vfio_mdev\n");
        var group = _nextIommuGroup++;
        Directory.CreateDirectory(Path.Combine(_root.Root, "kernel", "iommu_groups", group.ToString()));
        File.CreateSymbolicLink(Path.Combine(dir, "mdev_type"), $"../mdev_supported_types/{type.Id}");
        File.CreateSymbolicLink(Path.Combine(dir, "iommu_group"), $"../../../../kernel/iommu_groups/{group}");
        File.CreateSymbolicLink(Path.Combine(_root.MdevDevices, uuid), $"../../../devices/pci0000:00/{SimulatedGvtGpu.PciAddress}/{uuid}");
        File.CreateSymbolicLink(Path.Combine(SysfsRoot.TypesDir(_parentPath), type.Id, "devices", uuid), $"../../../{uuid}");
        WriteAvailableInstances();
        RaiseDevice("add", uuid);
    }

    private void Remove(string path, string uuid, string value)
    {
        // mdev core remove_store: kstrtoul, and only a non-zero value removes.
        if (!ulong.TryParse(value.TrimEnd('\n'), out var n))
            throw new KernelWriteException(path, Errno.EINVAL, "Invalid argument");
        if (n == 0) return;
        if (!_devices.ContainsKey(uuid))
            throw new KernelWriteException(path, Errno.ENODEV, "No such device");
        RemoveDevice(uuid);
    }

    private void RemoveDevice(string uuid)
    {
        _devices.Remove(uuid, out var type);
        File.Delete(Path.Combine(_root.MdevDevices, uuid));
        File.Delete(Path.Combine(SysfsRoot.TypesDir(_parentPath), type!.Id, "devices", uuid));
        Directory.Delete(Path.Combine(_parentPath, uuid), recursive: true);
        WriteAvailableInstances();
        RaiseDevice("remove", uuid);
    }

    private void Build()
    {
        var root = _root.Root;
        Directory.CreateDirectory(_root.MdevDevices);
        Directory.CreateDirectory(_root.MdevBusClass);
        if (_sriov is not null)
        {
            // A Gen12 iGPU has no GVT-g: no mdev parent, only SR-IOV.
            _sriov.Build();
            _raised.Clear();
            File.WriteAllText(Path.Combine(root, Marker), "made by gvtd --simulate=gen12\n");
            return;
        }
        Directory.CreateDirectory(Path.Combine(root, "bus", "pci", "drivers", SimulatedGvtGpu.Driver));
        Directory.CreateDirectory(Path.Combine(root, "kernel", "iommu_groups"));
        Directory.CreateDirectory(_parentPath);
        File.WriteAllText(Path.Combine(_parentPath, "vendor"), "0x8086\n");
        File.WriteAllText(Path.Combine(_parentPath, "device"), "0x5912\n");
        File.WriteAllText(Path.Combine(_parentPath, "class"), "0x030000\n");
        File.CreateSymbolicLink(Path.Combine(_parentPath, "driver"), $"../../../bus/pci/drivers/{SimulatedGvtGpu.Driver}");
        File.CreateSymbolicLink(Path.Combine(_root.MdevBusClass, SimulatedGvtGpu.PciAddress), $"../../devices/pci0000:00/{SimulatedGvtGpu.PciAddress}");
        foreach (var type in SimulatedGvtGpu.Types)
        {
            var dir = Path.Combine(SysfsRoot.TypesDir(_parentPath), type.Id);
            Directory.CreateDirectory(Path.Combine(dir, "devices"));
            File.WriteAllText(Path.Combine(dir, "name"), type.Name + "\n");
            File.WriteAllText(Path.Combine(dir, "description"), type.Description);
            File.WriteAllText(Path.Combine(dir, "device_api"), "vfio-pci\n");
            File.WriteAllText(Path.Combine(dir, "create"), "");
        }
        WriteAvailableInstances();
        File.WriteAllText(Path.Combine(root, Marker), "made by gvtd --simulate\n");
    }

    private void LoadExisting()
    {
        if (_sriov is not null) return; // its whole state is the tree
        foreach (var link in Directory.EnumerateFileSystemEntries(_root.MdevDevices))
        {
            var typeLink = new FileInfo(Path.Combine(link, "mdev_type")).LinkTarget;
            if (SimulatedGvtGpu.Types.FirstOrDefault(t => t.Id == Path.GetFileName(typeLink)) is { } type)
                _devices[Path.GetFileName(link)] = type;
        }
        var groups = Path.Combine(_root.Root, "kernel", "iommu_groups");
        _nextIommuGroup = Directory.EnumerateDirectories(groups).Select(d => int.TryParse(Path.GetFileName(d), out var n) ? n + 1 : 0).DefaultIfEmpty(0).Max();
        WriteAvailableInstances();
    }

    private void WriteAvailableInstances()
    {
        foreach (var type in SimulatedGvtGpu.Types)
        {
            var path = Path.Combine(SysfsRoot.TypesDir(_parentPath), type.Id, "available_instances");
            File.WriteAllText(path, SimulatedGvtGpu.AvailableInstances(type, _devices.Values) + "\n");
        }
    }
}
