using Cli = global::Gvtctl.Commands;
using ParentDevice = global::Gvtctl.ParentDevice;
using Table = global::Gvtctl.Table;
using Terminal = global::Gvtctl.Terminal;
using VGpu = global::Gvtctl.VGpu;

namespace Gvtd.Tests.Gvtctl;

/// <summary>Rendering that needs no daemon: table width, colour switch, VM snippets on non-GVT-g parents.</summary>
public sealed class RenderingTests
{
    private static string Render(Table table, bool tty, int? width, bool colour)
    {
        var output = new StringWriter();
        table.Write(new Terminal(output, tty, width, colour), (col, text) => col == 1 ? new Terminal(output, tty, width, colour).State(text) : text);
        return output.ToString();
    }

    private static Table Sample()
    {
        var table = new Table("UUID", "STATE", "REASON");
        table.Add("4b20d080-1b54-4048-85b3-a6a62d165c01", "active", new string('x', 200));
        return table;
    }

    [Fact]
    public void Table_OnATerminal_FitsItsWidth()
    {
        var lines = Render(Sample(), tty: true, width: 80, colour: false).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.All(lines, l => Assert.True(l.Length <= 80, l));
        Assert.EndsWith("…", lines[1]);
    }

    [Fact]
    public void Table_NotOnATerminal_IsNeverCutNorColoured()
    {
        var text = Render(Sample(), tty: false, width: 80, colour: true);

        Assert.Contains(new string('x', 200), text);
        Assert.DoesNotContain("\u001b", text);
    }

    [Fact]
    public void Table_ColoursOnlyWhenAllowed()
    {
        Assert.Contains("\u001b[32mactive\u001b[0m", Render(Sample(), tty: true, width: 300, colour: true));
        Assert.DoesNotContain("\u001b", Render(Sample(), tty: true, width: 300, colour: false));
    }

    [Fact]
    public void VmSnippets_OnANonGvtgParent_HaveNoIntelOptions()
    {
        var vgpu = new VGpu("/p", "0b5e7c1a-0000-4000-8000-000000000001", "", "mtty-1", "mtty", "active", false, true, true, "", "", "/sys/devices/virtual/mtty/mtty/0b5e7c1a-0000-4000-8000-000000000001", "");
        var parent = new ParentDevice("/q", "mtty", "mtty", "/sys/devices/virtual/mtty/mtty", []);

        Assert.Equal($"vfio-pci,sysfsdev={vgpu.SysfsPath},rombar=0", Cli.QemuDevice(vgpu, parent));
        Assert.StartsWith("<hostdev mode='subsystem' type='mdev' model='vfio-pci'>", Cli.HostdevXml(vgpu, parent));
    }
}
