using System.Xml.Linq;
using Gvtd.Tests.Bus;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Gvtctl;

/// <summary>gvtctl's SR-IOV side against a real gvtd --simulate=gen12 behind the private bus.</summary>
[Collection(SystemBusCollection.Name)]
public sealed class GvtctlSriovTests(SystemBusFixture bus)
{
    private const string Pf = "0000:00:02.0";

    private GvtctlResult Gvtctl(params string[] args) => GvtctlRun.Run(bus.Address, args);

    private GvtdProcess Start(int vfs, string extra = "") =>
        GvtdProcess.Start(bus.Address, $"vgpus: []\nsriov:\n  - pf: \"{Pf}\"\n    vfs: {vfs}\n{extra}", extraArguments: ["--simulate=gen12"]);

    [Fact]
    public void List_status_and_plan_show_the_pf_and_its_vfs()
    {
        using var gvtd = Start(2);

        var list = Gvtctl("list").Ok().Stdout;
        Assert.Matches(@"0000:00:02\.0\s+i915\s+active\s+no\s+2 of 7 VFs on vfio-pci", list);
        Assert.Matches(@"  0000:00:02\.2\s+vfio-pci\s+bound\s+no\s+-device vfio-pci,host=0000:00:02\.2", list);
        var json = Gvtctl("list", "--json").Ok().Json().EnumerateArray().ToList();
        Assert.Equal(["pf", "vf", "vf"], json.Select(e => e.GetProperty("kind").GetString()));
        Assert.Equal(Pf, json[1].GetProperty("physicalFunction").GetString());

        var status = Gvtctl("status").Ok().Stdout;
        Assert.Contains($"SR-IOV:     {Pf} (i915): active, 2 of 7 VFs on vfio-pci", status);
        Assert.Equal("active", Gvtctl("status", "--json").Ok().Json().GetProperty("functions")[0].GetProperty("state").GetString());

        var plan = Gvtctl("plan", "--json").Ok().Json().EnumerateArray().Single();
        Assert.Equal(("keep", Pf), (plan.GetProperty("action").GetString(), plan.GetProperty("pf").GetString()));
    }

    [Fact]
    public void Qemu_args_and_libvirt_xml_take_a_vf_by_address_and_say_what_the_daemon_says()
    {
        using var gvtd = Start(2);

        Assert.Equal("-device vfio-pci,host=0000:00:02.1", Gvtctl("qemu-args", "00:02.1").Ok().Stdout.Trim());
        Assert.Equal(["-device", "vfio-pci,host=0000:00:02.1"],
            Gvtctl("qemu-args", "0000:00:02.1", "--json").Ok().Json().GetProperty("args").EnumerateArray().Select(e => e.GetString()));
        var xml = XElement.Parse(Gvtctl("libvirt-xml", "0000:00:02.1").Ok().Stdout);
        Assert.Equal(("pci", "no"), ((string?)xml.Attribute("type"), (string?)xml.Attribute("managed")));
        var address = xml.Element("source")!.Element("address")!;
        Assert.Equal(["0x0000", "0x00", "0x02", "0x1"], new[] { "domain", "bus", "slot", "function" }.Select(a => (string?)address.Attribute(a)));
        var property = Busctl.Json(bus.Address, "get-property", "org.gvtd.Gvtd1", Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vf", "0000:00:02.1"),
            "org.gvtd.Gvtd1.VirtualFunction", "LibvirtXml").RootElement.GetProperty("data").GetString();
        Assert.Equal(property!.Trim(), Gvtctl("libvirt-xml", "0000:00:02.1").Ok().Stdout.Trim());

        var pf = Gvtctl("qemu-args", Pf);
        Assert.Equal(1, pf.ExitCode);
        Assert.Contains("is a physical function; a VM takes one of its VFs (0000:00:02.1, 0000:00:02.2)", pf.Stderr);
        Assert.Equal(1, Gvtctl("qemu-args", "0000:00:02.5").ExitCode);
        Assert.Equal(2, Gvtctl("qemu-args", "not-a-device").ExitCode);
    }

    [Fact]
    public void A_vf_bound_to_another_driver_by_hand_shows_as_such_and_is_left_there()
    {
        using var gvtd = Start(2);
        // The same simulated tree, from this process: as a person would with echo, behind gvtd's back.
        var core = Gvtd.Simulation.SimulatedMdevCore.Open(gvtd.SysfsRoot);
        var vf = "0000:00:02.1";
        core.Write(Path.Combine(core.Root.Root, "bus", "pci", "drivers", "vfio-pci", "unbind"), vf);
        core.Write(Path.Combine(core.Root.PciDevice(vf), "driver_override"), "i915");
        core.Write(core.Root.PciDriversProbe, vf);

        Gvtctl("reconcile").Ok();
        Assert.Matches(@"  0000:00:02\.1\s+i915\s+other-driver", Gvtctl("list").Ok().Stdout);
        Assert.Contains("is bound to i915, declared vfio-pci", Gvtctl("plan").Ok().Stdout);
        Assert.Equal("i915", Path.GetFileName(new DirectoryInfo(Path.Combine(core.Root.PciDevice(vf), "driver")).LinkTarget));
    }

    [Fact]
    public void A_blocked_pf_makes_status_exit_four_and_plan_say_why()
    {
        using var gvtd = Start(2, "    provision:\n      gpu_speed: 11\n");

        var status = Gvtctl("status");
        Assert.Equal(4, status.ExitCode);
        Assert.Contains("1 SR-IOV PF(s) not as declared: gvtctl plan shows why", status.Stdout);
        Assert.Matches(@"blocked\s+0000:00:02\.0\s+provision: gpu_speed is not offered by i915 \(i915 prelim_iov\); it offers: contexts_quota, doorbells_quota, exec_quantum_ms, ggtt_quota, preempt_timeout_us",
            Gvtctl("plan").Ok().Stdout);
    }
}
