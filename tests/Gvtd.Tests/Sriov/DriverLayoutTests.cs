using Gvtd.Applying;
using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Sysfs;
using Gvtd.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gvtd.Tests.Sriov;

/// <summary>
/// The PF-driver-specific parts, on sysfs trees laid out as the drivers' sources make them: where
/// each keeps its per-VF provisioning files (xe's sriov_admin from 6.19, xe's debugfs before it,
/// the i915 SR-IOV build's prelim_iov), and NVIDIA's per-VF vGPU type files.
/// </summary>
public sealed class DriverLayoutTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly SysfsTree _tree;

    public DriverLayoutTests() => _tree = new SysfsTree(_dir.Combine("sys"), _dir.Combine("proc"));

    public void Dispose() => _dir.Dispose();

    /// <summary>A PF at <paramref name="address"/> bound to <paramref name="driver"/>, with <paramref name="vfs"/> VFs already enabled.</summary>
    private string Pf(string address, string driver, int total, int vfs = 0)
    {
        var dir = $"devices/pci0000:00/{address}";
        _tree.Dir($"bus/pci/drivers/{driver}");
        _tree.File(dir + "/sriov_totalvfs", $"{total}\n");
        _tree.File(dir + "/sriov_numvfs", $"{vfs}\n");
        _tree.File(dir + "/sriov_drivers_autoprobe", "0\n");
        _tree.Link(dir + "/driver", $"../../../bus/pci/drivers/{driver}");
        _tree.Link($"bus/pci/devices/{address}", $"../../../{dir}");
        for (var i = 0; i < vfs; i++)
        {
            var vf = $"{address[..^1]}{i + 1}";
            var vfDir = $"devices/pci0000:00/{vf}";
            _tree.File(vfDir + "/driver_override", $"{driver}\n");
            _tree.Link(vfDir + "/driver", $"../../../bus/pci/drivers/{driver}");
            _tree.Link(vfDir + "/physfn", $"../{address}");
            _tree.Link(dir + $"/virtfn{i}", $"../{vf}");
            _tree.Link($"bus/pci/devices/{vf}", $"../../../{vfDir}");
        }
        return _tree.Full(dir);
    }

    private void ProvisioningFiles(string dir, int vfs, params string[] names)
    {
        for (var n = 1; n <= vfs; n++)
            foreach (var name in names)
                _tree.File($"{dir.Replace("{n}", n.ToString())}/{name}", "0\n");
    }

    private PhysicalFunction Read(string address)
    {
        using var users = new VfioUsers(_tree.ProcRoot, _tree.DevRoot);
        return new SysfsReader(new SysfsRoot(_tree.Root), users).Read(functions: new HashSet<string> { address }).Sriov.Functions[address];
    }

    private static FunctionAction PlanOne(PhysicalFunction pf, string yaml, TempDir dir)
    {
        var state = Yaml.Load(dir, yaml);
        return Assert.Single(FunctionPlanner.Plan(state, new ObservedFunctions(new Dictionary<string, PhysicalFunction> { [pf.Address] = pf }, null), new HashSet<string>()));
    }

    [Fact]
    public void Xe_from_6_19_keeps_them_under_sriov_admin_vfN_profile()
    {
        const string address = "0000:03:00.0";
        Pf(address, "xe", 8);
        ProvisioningFiles($"devices/pci0000:00/{address}/sriov_admin/vf{{n}}/profile", 8, "exec_quantum_ms", "preempt_timeout_us", "sched_priority");

        var pf = Read(address);
        Assert.Equal("xe sriov_admin", pf.Provisioning!.Layout.Name);
        Assert.Equal(["exec_quantum_ms", "preempt_timeout_us", "sched_priority"], pf.Provisioning.Offered);

        Assert.Equal(FunctionActionKind.Enable, PlanOne(pf, $"sriov:\n  - pf: {address}\n    vfs: 2\n    provision:\n      exec_quantum_ms: 20\n", _dir).Kind);
        var refused = PlanOne(pf, $"sriov:\n  - pf: {address}\n    vfs: 2\n    provision:\n      ggtt_quota: 1\n", _dir);
        Assert.Equal(BlockReason.UnknownType, refused.Blocked);
        Assert.Contains("ggtt_quota is not offered by xe (xe sriov_admin); it offers: exec_quantum_ms, preempt_timeout_us, sched_priority", refused.Reason);
    }

    [Fact]
    public void Xe_before_6_19_keeps_them_in_debugfs_per_gt_and_vf()
    {
        const string address = "0000:03:00.0";
        Pf(address, "xe", 8);
        ProvisioningFiles($"kernel/debug/dri/{address}/gt0/vf{{n}}", 8, "contexts_quota", "doorbells_quota", "exec_quantum_ms", "ggtt_quota", "preempt_timeout_us");

        var pf = Read(address);
        Assert.Equal("xe debugfs", pf.Provisioning!.Layout.Name);
        Assert.Equal(_tree.Full($"kernel/debug/dri/{address}/gt0/vf3"), pf.Provisioning.VfDirectory(3));
        Assert.Contains("ggtt_quota", pf.Provisioning.Offered);
    }

    [Fact]
    public void The_i915_sriov_build_keeps_them_under_the_drm_cards_prelim_iov()
    {
        const string address = "0000:00:02.0";
        Pf(address, "i915", 7);
        ProvisioningFiles($"devices/pci0000:00/{address}/drm/card1/prelim_iov/vf{{n}}/gt0", 7, "exec_quantum_ms", "ggtt_quota");

        var pf = Read(address);
        Assert.Equal("i915 prelim_iov", pf.Provisioning!.Layout.Name);
        Assert.Equal(_tree.Full($"devices/pci0000:00/{address}/drm/card1/prelim_iov/vf2/gt0"), pf.Provisioning.VfDirectory(2));
    }

    [Fact]
    public void A_driver_without_a_known_layout_refuses_provisioning_naming_the_layouts_gvtd_knows()
    {
        const string address = "0000:00:03.0";
        Pf(address, "nvme", 4);
        var refused = PlanOne(Read(address), $"sriov:\n  - pf: {address}\n    vfs: 2\n    provision:\n      exec_quantum_ms: 20\n", _dir);
        Assert.Contains("nvme on 0000:00:03.0 offers no per-VF provisioning files gvtd knows of (it knows: xe sriov_admin; i915 prelim_iov; xe debugfs)", refused.Reason);
    }

    [Fact]
    public async Task Nvidia_vfs_get_the_declared_vgpu_type_by_name_or_id_and_an_unknown_one_is_refused_with_the_list()
    {
        const string address = "0000:41:00.0";
        var pfPath = Pf(address, "nvidia", 16, vfs: 2);
        foreach (var vf in new[] { "0000:41:00.1", "0000:41:00.2" })
        {
            _tree.File($"devices/pci0000:00/{vf}/nvidia/creatable_vgpu_types", "ID    : vGPU Name\n557   : NVIDIA A10-4Q\n558   : NVIDIA A10-6Q\n");
            _tree.File($"devices/pci0000:00/{vf}/nvidia/current_vgpu_type", "0\n");
        }
        var yaml = $"sriov:\n  - pf: {address}\n    vfs: 2\n    driver: nvidia\n    vgpu-type: NVIDIA A10-4Q\n";

        var bind = PlanOne(Read(address), yaml, _dir);
        Assert.Equal(FunctionActionKind.Bind, bind.Kind);

        var kernel = new FileKernel();
        var applier = new Applier(kernel, TimeSpan.FromSeconds(60), TimeProvider.System, NullLogger<Applier>.Instance);
        var outcome = Assert.Single(await new FunctionApplier(applier, new SysfsRoot(_tree.Root), NullLogger<FunctionApplier>.Instance).ApplyAsync([bind]));
        Assert.Equal(OutcomeKind.Created, outcome.Kind);
        Assert.Equal([("0000:41:00.1", "557"), ("0000:41:00.2", "557")],
            kernel.Writes.Select(w => (Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(w.Path)))!, w.Value)));
        Assert.DoesNotContain(kernel.Writes, w => w.Path.EndsWith("drivers_probe") || w.Path.EndsWith("driver_override"));
        Assert.Equal(FunctionActionKind.Keep, PlanOne(Read(address), yaml.Replace("NVIDIA A10-4Q", "557"), _dir).Kind);

        var refused = PlanOne(Read(address), yaml.Replace("NVIDIA A10-4Q", "NVIDIA A10-24Q"), _dir);
        Assert.Equal(BlockReason.UnknownType, refused.Blocked);
        Assert.Contains("vgpu-type NVIDIA A10-24Q is not offered by VF 0000:41:00.1 (creatable now: 557 NVIDIA A10-4Q, 558 NVIDIA A10-6Q)", refused.Reason);
        Assert.True(Directory.Exists(pfPath));
    }

    /// <summary>Writes go to the files as they are, as sysfs attributes without side effects would.</summary>
    private sealed class FileKernel : IKernel
    {
        public List<(string Path, string Value)> Writes { get; } = [];

        public void Write(string path, string value)
        {
            lock (Writes) Writes.Add((path, value));
            File.WriteAllText(path, value + "\n");
        }
    }
}
