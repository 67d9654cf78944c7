using Gvtd.Tests.Support;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Bus;

/// <summary>
/// What a desktop tool shows before it changes anything: PreviewAddVGpu plans an add without making
/// it, and each vGPU carries the libvirt element as it carries its QEMU arguments.
/// </summary>
[Collection(SystemBusCollection.Name)]
public sealed class PreviewTests(SystemBusFixture bus)
{
    private const string Manager = "/org/gvtd/Gvtd1/Manager", Iface = "org.gvtd.Gvtd1.Manager";

    private List<string[]> Preview(string uuid, string type, string parent) =>
        [.. Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", Manager, Iface, "PreviewAddVGpu", "sss", uuid, type, parent)
            .RootElement.GetProperty("data")[0].EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetString()!).ToArray())];

    [Fact]
    public void An_add_is_planned_before_it_is_made_and_nothing_changes()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var files = Directory.GetFiles(gvtd.Dir, "*.yaml", SearchOption.AllDirectories).Order().ToList();

        var fits = Preview(B, "i915-GVTg_V5_8", Parent).Single(r => r[1] == B);
        Assert.Equal(["create", B, "i915-GVTg_V5_8", Parent, "declared but not present"], fits);
        // The pool is shared: with a V5_4 made, a V5_1 (all of the low graphics memory) cannot fit.
        var full = Preview(B, "i915-GVTg_V5_1", Parent).Single(r => r[1] == B);
        Assert.Equal("blocked", full[0]);
        Assert.Contains("no capacity", full[4]);
        var made = Preview("", "i915-GVTg_V5_8", Parent).Single(r => r[1] != A);
        Assert.Matches("^[0-9a-f-]{36}$", made[1]);

        var refused = Busctl.Run(bus.Address, "call", "org.gvtd.Gvtd1", Manager, Iface, "PreviewAddVGpu", "sss", A, "i915-GVTg_V5_8", Parent);
        Assert.False(refused.Success);
        Assert.Contains("already declared", refused.Stderr);
        Assert.Equal(files, Directory.GetFiles(gvtd.Dir, "*.yaml", SearchOption.AllDirectories).Order().ToList());
        Assert.Equal("1", gvtd.Property("Desired"));
    }

    [Fact]
    public void Each_vgpu_carries_its_libvirt_element_as_gvtctl_prints_it()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var property = Busctl.Json(bus.Address, "get-property", "org.gvtd.Gvtd1", Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vgpu", A), "org.gvtd.Gvtd1.VGpu", "LibvirtXml")
            .RootElement.GetProperty("data").GetString()!;
        // Written out, not made with VmArguments (which both the daemon and gvtctl use): an i915
        // parent's vfio-pci type, so the display is on.
        var expected = $"""
            <hostdev mode='subsystem' type='mdev' model='vfio-pci' display='on'>
              <source>
                <address uuid='{A}'/>
              </source>
            </hostdev>
            """;
        Assert.Equal(expected, property.Trim());
        Assert.Equal(expected, Gvtd.Tests.Gvtctl.GvtctlRun.Run(bus.Address, ["libvirt-xml", A]).Ok().Stdout.Trim());
    }
}
