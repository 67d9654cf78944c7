using System.Globalization;
using System.Text;
using Gvtd.Interop;
using Gvtd.Sysfs;

namespace Gvtd.Simulation;

/// <summary>
/// A Gen12 (Tiger Lake) iGPU sharing itself by SR-IOV, as the i915 SR-IOV build shows it: a PF at
/// 0000:00:02.0 bound to i915 offering 7 VFs, and per-VF provisioning under
/// drm/card0/prelim_iov/vfN/gt0. Writes follow what a probe of the kernel's SR-IOV core showed
/// (docs/kernel/sriov.md): the count changes only through 0 (EBUSY), ERANGE past
/// sriov_totalvfs, ENOENT with no PF driver, EINVAL for what is not a number; VFs appear as
/// virtfnN links and bind through driver_override + drivers_probe; autoprobe on lets the host
/// driver take new VFs. An unbind can be left waiting, as one does while a VM holds the VF, with
/// the VF's device lock held (<see cref="BeginStuckUnbind"/>). Called under the simulator's lock;
/// events go to <paramref name="raise"/>.
/// </summary>
internal sealed class SimulatedSriovGpu(SysfsRoot root, Action<Uevent> raise)
{
    public const string PciAddress = "0000:00:02.0";
    public const string Driver = "i915";
    public const int TotalVfs = 7;
    public static readonly string[] ProvisioningFiles = ["contexts_quota", "doorbells_quota", "exec_quantum_ms", "ggtt_quota", "preempt_timeout_us"];

    private string PfPath => Path.Combine(root.Root, "devices", "pci0000:00", PciAddress);
    private static string VfAddress(int index) => $"0000:00:02.{index + 1}";
    private string VfPath(int index) => Path.Combine(root.Root, "devices", "pci0000:00", VfAddress(index));
    private string DevPath(string address) => "/devices/pci0000:00/" + address;
    private int _nextGroup = 100;

    public void Build()
    {
        Directory.CreateDirectory(PfPath);
        foreach (var d in new[] { Driver, "vfio-pci" }) Directory.CreateDirectory(Path.Combine(root.Root, "bus", "pci", "drivers", d));
        Directory.CreateDirectory(root.PciDevices);
        File.WriteAllText(root.PciDriversProbe, "");
        File.WriteAllText(Path.Combine(PfPath, "vendor"), "0x8086\n");
        File.WriteAllText(Path.Combine(PfPath, "device"), "0x9a49\n");
        File.WriteAllText(Path.Combine(PfPath, "class"), "0x030000\n");
        File.WriteAllText(Path.Combine(PfPath, "sriov_totalvfs"), $"{TotalVfs}\n");
        File.WriteAllText(Path.Combine(PfPath, "sriov_numvfs"), "0\n");
        File.WriteAllText(Path.Combine(PfPath, "sriov_drivers_autoprobe"), "1\n");
        File.WriteAllText(Path.Combine(PfPath, "sriov_offset"), "1\n");
        File.WriteAllText(Path.Combine(PfPath, "sriov_stride"), "1\n");
        File.CreateSymbolicLink(Path.Combine(root.PciDevices, PciAddress), $"../../../devices/pci0000:00/{PciAddress}");
        for (var n = 1; n <= TotalVfs; n++)
        {
            var dir = Path.Combine(PfPath, "drm", "card0", "prelim_iov", $"vf{n}", "gt0");
            Directory.CreateDirectory(dir);
            foreach (var file in ProvisioningFiles) File.WriteAllText(Path.Combine(dir, file), "0\n");
        }
        BindPf();
    }

    public int NumVfs => Directory.EnumerateFileSystemEntries(PfPath, "virtfn*").Count();

    public bool Handles(string path) =>
        path == root.PciDriversProbe || path.StartsWith(PfPath + "/", StringComparison.Ordinal)
        || (path.StartsWith(Path.Combine(root.Root, "bus", "pci", "drivers") + "/", StringComparison.Ordinal) && Path.GetFileName(path) is "unbind" or "bind")
        || Enumerable.Range(0, TotalVfs).Any(i => path == SysfsRoot.DriverOverrideFile(VfPath(i)));

    public void Write(string path, string value)
    {
        var text = value.TrimEnd('\n');
        var file = Path.GetFileName(path);
        if (path == SysfsRoot.NumVfsFile(PfPath)) SetNumVfs(path, text);
        else if (path == SysfsRoot.AutoProbeFile(PfPath))
            File.WriteAllText(path, (text switch { "0" or "n" or "no" or "off" => "0", "1" or "y" or "yes" or "on" => "1", _ => throw Invalid(path) }) + "\n");
        else if (path == root.PciDriversProbe) Probe(path, text);
        else if (file == "unbind") Unbind(path, text);
        else if (file == "driver_override") File.WriteAllText(path, (text.Length == 0 ? "(null)" : text) + "\n");
        else if (ProvisioningFiles.Contains(file) && File.Exists(path))
            File.WriteAllText(path, Kept(file, ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw Invalid(path)) + "\n");
        else throw new KernelWriteException(path, File.Exists(path) ? Errno.EACCES : Errno.ENOENT, "refused");
    }

    /// <summary>The GGTT a VF's quota is rounded up to, as a PF driver aligns it.</summary>
    public const ulong GgttAlignment = 64 * 1024;

    /// <summary>
    /// What the driver keeps for a value written: the number as a number (020 is kept as 20), and a
    /// GGTT quota rounded up to <see cref="GgttAlignment"/>, as PF drivers align quotas (i915's
    /// SR-IOV PF allocates VF GGTT in aligned blocks): what reads back is not always what was written.
    /// </summary>
    private static ulong Kept(string file, ulong value) =>
        file == "ggtt_quota" ? (value + GgttAlignment - 1) / GgttAlignment * GgttAlignment : value;

    /// <summary>As unbinding i915 from the PF does: the VFs stay (the kernel warns "driver left SR-IOV enabled").</summary>
    public void UnbindPf()
    {
        File.Delete(Path.Combine(PfPath, "driver"));
        raise(new Uevent("unbind", DevPath(PciAddress), new Dictionary<string, string> { ["SUBSYSTEM"] = "pci" }));
    }

    /// <summary>As i915 binding (late, say): a bind uevent on the PF.</summary>
    public void BindPf()
    {
        File.CreateSymbolicLink(Path.Combine(PfPath, "driver"), $"../../../bus/pci/drivers/{Driver}");
        raise(new Uevent("bind", DevPath(PciAddress), new Dictionary<string, string> { ["SUBSYSTEM"] = "pci", ["DRIVER"] = Driver }));
    }

    private void SetNumVfs(string path, string text)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) throw Invalid(path);
        if (!File.Exists(Path.Combine(PfPath, "driver")) && new FileInfo(Path.Combine(PfPath, "driver")).LinkTarget is null)
            throw new KernelWriteException(path, Errno.ENOENT, "No such file or directory");
        var now = NumVfs;
        if (n == now) return;
        if (n > TotalVfs) throw new KernelWriteException(path, Errno.ERANGE, "Numerical result out of range");
        if (n > 0 && now > 0) throw new KernelWriteException(path, Errno.EBUSY, "Device or resource busy");
        if (n == 0)
        {
            for (var i = 0; i < now; i++) RemoveVf(i);
        }
        else
        {
            var autoprobe = File.ReadAllText(SysfsRoot.AutoProbeFile(PfPath)).Trim() == "1";
            for (var i = 0; i < n; i++) AddVf(i, autoprobe);
            raise(new Uevent("change", DevPath(PciAddress), new Dictionary<string, string> { ["SUBSYSTEM"] = "pci", ["DRIVER"] = Driver }));
        }
        File.WriteAllText(path, $"{n}\n");
    }

    private void AddVf(int index, bool autoprobe)
    {
        var dir = VfPath(index);
        var address = VfAddress(index);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "driver_override"), "(null)\n");
        File.WriteAllText(Path.Combine(dir, "vendor"), "0x8086\n");
        File.WriteAllText(Path.Combine(dir, "device"), "0x9a49\n");
        var group = _nextGroup++;
        Directory.CreateDirectory(Path.Combine(root.Root, "kernel", "iommu_groups", group.ToString(CultureInfo.InvariantCulture)));
        File.CreateSymbolicLink(Path.Combine(dir, "iommu_group"), $"../../../kernel/iommu_groups/{group}");
        File.CreateSymbolicLink(Path.Combine(dir, "physfn"), $"../{PciAddress}");
        File.CreateSymbolicLink(Path.Combine(PfPath, $"virtfn{index}"), $"../{address}");
        File.CreateSymbolicLink(Path.Combine(root.PciDevices, address), $"../../../devices/pci0000:00/{address}");
        raise(new Uevent("add", DevPath(address), new Dictionary<string, string> { ["SUBSYSTEM"] = "pci", ["PCI_SLOT_NAME"] = address }));
        // With autoprobe on, the host's i915 takes the new VF before anyone else can.
        if (autoprobe) Bind(address, Driver);
    }

    private void RemoveVf(int index)
    {
        var address = VfAddress(index);
        if (DriverOf(address) is not null) Unbind(null, address);
        File.Delete(Path.Combine(root.PciDevices, address));
        File.Delete(Path.Combine(PfPath, $"virtfn{index}"));
        Directory.Delete(VfPath(index), recursive: true);
        raise(new Uevent("remove", DevPath(address), new Dictionary<string, string> { ["SUBSYSTEM"] = "pci" }));
    }

    private string? DriverOf(string address) =>
        new FileInfo(Path.Combine(root.PciDevice(address), "driver")).LinkTarget is { } target ? Path.GetFileName(target) : null;

    /// <summary>drivers_probe: binds to the driver_override's driver; reports success even when nothing binds, as the kernel does.</summary>
    private void Probe(string path, string address)
    {
        if (!Path.Exists(root.PciDevice(address))) throw new KernelWriteException(path, Errno.ENODEV, "No such device");
        if (DriverOf(address) is not null) return;
        var wanted = File.ReadAllText(Path.Combine(root.PciDevice(address), "driver_override")).Trim();
        var driver = wanted == "(null)" ? Driver : wanted;
        if (Directory.Exists(Path.Combine(root.Root, "bus", "pci", "drivers", driver))) Bind(address, driver);
    }

    private void Bind(string address, string driver)
    {
        var dir = root.PciDevice(address);
        File.CreateSymbolicLink(Path.Combine(dir, "driver"), $"../../../bus/pci/drivers/{driver}");
        if (driver == "vfio-pci")
        {
            var group = Path.GetFileName(new FileInfo(Path.Combine(dir, "iommu_group")).LinkTarget!);
            Directory.CreateDirectory(Path.Combine(dir, "vfio-dev", $"vfio{group}"));
            raise(new Uevent("add", $"/devices/virtual/vfio/{group}", new Dictionary<string, string> { ["SUBSYSTEM"] = "vfio", ["DEVNAME"] = $"vfio/{group}" }));
        }
        raise(new Uevent("bind", DevPath(address), new Dictionary<string, string> { ["SUBSYSTEM"] = "pci", ["DRIVER"] = driver }));
    }

    private void Unbind(string? path, string address)
    {
        var dir = root.PciDevice(address);
        if (DriverOf(address) is not { } driver)
            throw new KernelWriteException(path ?? dir, Errno.ENODEV, "No such device");
        if (path is not null && Path.GetFileName(Path.GetDirectoryName(path)) != driver)
            throw new KernelWriteException(path, Errno.ENODEV, "No such device");
        File.Delete(Path.Combine(dir, "driver"));
        if (Directory.Exists(Path.Combine(dir, "vfio-dev"))) Directory.Delete(Path.Combine(dir, "vfio-dev"), recursive: true);
        raise(new Uevent("unbind", DevPath(address), new Dictionary<string, string> { ["SUBSYSTEM"] = "pci" }));
    }

    /// <summary>
    /// Marks a VF whose device lock an unbind holds, and keeps what its driver_override said while
    /// that file is a FIFO. On disk, like the rest of the simulator's state, so that every simulator
    /// on the tree (gvtd's, a test's) sees the same lock.
    /// </summary>
    private static string LockMarker(string vfDir) => Path.Combine(vfDir, ".gvtd-device-locked");

    /// <summary>One line ("path value") per write that found the VF's device lock held and waited for it; on disk, for any process to read.</summary>
    private static string WaitedWrites(string vfDir) => Path.Combine(vfDir, ".gvtd-device-lock-waits");

    /// <summary>
    /// The VM that holds a VF while its unbind waits: a process in <c>procRoot</c> with the VF's IOMMU
    /// group open, as QEMU has /dev/vfio/N. Its PID is above any a test makes up and within pid_max.
    /// </summary>
    private static string HolderDir(string procRoot, int group) => Path.Combine(procRoot, (4_000_000 + group).ToString(CultureInfo.InvariantCulture));

    private int? IndexOf(string address) =>
        Enumerable.Range(0, TotalVfs).Where(i => VfAddress(i) == address).Select(i => (int?)i).FirstOrDefault();

    private int GroupOf(string dir) => int.Parse(Path.GetFileName(new FileInfo(Path.Combine(dir, "iommu_group")).LinkTarget!), CultureInfo.InvariantCulture);

    /// <summary>
    /// As `echo VF > /sys/bus/pci/drivers/DRIVER/unbind` does while a VM holds the VF's VFIO device
    /// (docs/kernel/device-lock.md): the VM, a process in <paramref name="procRoot"/> holding the VF's
    /// group, is there throughout (a real unbind waits only because one is); the driver link goes at
    /// once (the driver core removes it before it calls the driver's remove), then the unbind waits
    /// holding the VF's device lock. Until <see cref="EndStuckUnbind"/>, reading the VF's
    /// driver_override blocks (it is a FIFO, so open(2) waits), and so does every write that takes
    /// that lock (<see cref="LockedBy"/>).
    /// </summary>
    public void BeginStuckUnbind(string address, string procRoot)
    {
        var dir = VfPath(IndexOf(address) ?? throw new InvalidOperationException($"{address} is not a VF of {PciAddress}"));
        if (!Directory.Exists(dir)) throw new InvalidOperationException($"VF {address} is not enabled");
        if (File.Exists(LockMarker(dir))) throw new InvalidOperationException($"an unbind of {address} is already waiting");
        if (DriverOf(address) is null) throw new InvalidOperationException($"{address} is bound to no driver: there is nothing to unbind");
        HoldByVm(address, procRoot);
        var overrideFile = SysfsRoot.DriverOverrideFile(dir);
        File.WriteAllText(LockMarker(dir), File.ReadAllText(overrideFile));
        var fifo = Path.Combine(dir, ".driver_override.fifo");
        Fifo.Create(fifo);
        File.Move(fifo, overrideFile, overwrite: true);
        File.Delete(Path.Combine(dir, "driver"));
    }

    /// <summary>As a VM opening the VF's VFIO group (/dev/vfio/N): a process in <paramref name="procRoot"/> holds it, until <see cref="EndStuckUnbind"/>.</summary>
    public void HoldByVm(string address, string procRoot)
    {
        var dir = VfPath(IndexOf(address) ?? throw new InvalidOperationException($"{address} is not a VF of {PciAddress}"));
        var fd = Path.Combine(HolderDir(procRoot, GroupOf(dir)), "fd");
        if (Directory.Exists(fd)) return;
        Directory.CreateDirectory(fd);
        File.CreateSymbolicLink(Path.Combine(fd, "3"), $"/dev/vfio/{GroupOf(dir)}");
    }

    /// <summary>
    /// As the VM letting go: it closes the VF's group (its process in <paramref name="procRoot"/>
    /// goes), then the waiting unbind finishes, the lock is released, and the VF is left with no driver.
    /// </summary>
    public void EndStuckUnbind(string address, string procRoot)
    {
        var dir = VfPath(IndexOf(address) ?? throw new InvalidOperationException($"{address} is not a VF of {PciAddress}"));
        if (!File.Exists(LockMarker(dir))) return;
        var holder = HolderDir(procRoot, GroupOf(dir));
        if (Directory.Exists(holder)) Directory.Delete(holder, recursive: true);
        var text = File.ReadAllText(LockMarker(dir));
        var overrideFile = SysfsRoot.DriverOverrideFile(dir);
        // The FIFO keeps a second name, so that a reader that looked driver_override up before the
        // plain file replaced it (atomically: no reader ever finds it missing) is still reached.
        var fifo = Path.Combine(dir, ".driver_override.fifo");
        Fifo.Link(overrideFile, fifo);
        var plain = Path.Combine(dir, ".driver_override.new");
        File.WriteAllText(plain, text);
        File.Move(plain, overrideFile, overwrite: true); // later readers get the plain file
        Fifo.ServeReaders(fifo, Encoding.ASCII.GetBytes(text), TimeSpan.FromSeconds(60));
        File.Delete(fifo);
        File.Delete(LockMarker(dir)); // the writes that waited go on now
        var vfio = Path.Combine(dir, "vfio-dev");
        if (Directory.Exists(vfio)) Directory.Delete(vfio, recursive: true);
        raise(new Uevent("unbind", DevPath(address), new Dictionary<string, string> { ["SUBSYSTEM"] = "pci" }));
    }

    /// <summary>The writes that found <paramref name="address"/>'s device lock held and waited for it, as "path value" lines.</summary>
    public IReadOnlyList<string> WritesThatWaited(string address)
    {
        var log = WaitedWrites(VfPath(IndexOf(address) ?? throw new InvalidOperationException($"{address} is not a VF of {PciAddress}")));
        return File.Exists(log) ? File.ReadAllLines(log) : [];
    }

    /// <summary>
    /// The directories of the VFs whose device lock a write to <paramref name="path"/> would take and
    /// an unbind holds: the VF's own driver_override, a bind, unbind or drivers_probe naming it, and
    /// its PF's sriov_numvfs (removing a VF releases its driver under its lock).
    /// </summary>
    public IReadOnlyList<string> LockedBy(string path, string value)
    {
        var address = value.Trim();
        var file = Path.GetFileName(path);
        IEnumerable<int> wanted = path == SysfsRoot.NumVfsFile(PfPath) ? Enumerable.Range(0, TotalVfs)
            : path == root.PciDriversProbe || file is "bind" or "unbind" ? Enumerable.Range(0, TotalVfs).Where(i => VfAddress(i) == address)
            : Enumerable.Range(0, TotalVfs).Where(i => path == SysfsRoot.DriverOverrideFile(VfPath(i)));
        return [.. wanted.Where(i => File.Exists(LockMarker(VfPath(i)))).Select(VfPath)];
    }

    /// <summary>
    /// Waits, as a writer taking the device lock would, until none of the VFs in <paramref name="locked"/>
    /// is locked, having noted the write in each one's <see cref="WaitedWrites"/>. It watches the lock
    /// marker, never the FIFO: a writer reading the FIFO would take the value from a reader waiting on it.
    /// No hang guard: the kernel's writer waits as long as the VM holds on, and gvtd's applier bounds its writes itself.
    /// </summary>
    public static void WaitForDeviceLocks(IEnumerable<string> locked, string path, string value)
    {
        foreach (var dir in locked)
        {
            try
            {
                File.AppendAllText(WaitedWrites(dir), $"{path} {value.TrimEnd('\n')}\n");
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                continue; // The VF went meanwhile: nothing holds it.
            }
            while (File.Exists(LockMarker(dir))) Thread.Sleep(5);
        }
    }

    private static KernelWriteException Invalid(string path) => new(path, Errno.EINVAL, "Invalid argument");
}
