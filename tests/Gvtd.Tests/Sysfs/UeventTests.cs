using System.Text;
using Gvtd.Sysfs;
using Gvtd.Tests.Bus;

namespace Gvtd.Tests.Sysfs;

/// <summary>Uevents as a real Linux 6.1 sends them with the mtty parent (docs/kernel/captures/uevents-mtty-linux-6.1.txt; docs/kernel/uevents.md).</summary>
public sealed class UeventTests
{
    /// <summary>Each "KERNEL[...] action devpath (subsystem)" block of the capture, as the netlink message it was.</summary>
    private static List<(string Header, byte[] Message)> Capture()
    {
        var blocks = new List<(string, byte[])>();
        string? header = null;
        var fields = new List<string>();
        foreach (var line in File.ReadLines(Path.Combine(RepoRoot.Path, "docs", "kernel", "captures", "uevents-mtty-linux-6.1.txt")).Append(""))
        {
            if (line.StartsWith("KERNEL[", StringComparison.Ordinal)) header = line;
            else if (header is not null && line.Contains('=')) fields.Add(line);
            else if (header is not null && line.Length == 0)
            {
                var action = fields.First(f => f.StartsWith("ACTION=", StringComparison.Ordinal))[7..];
                var devpath = fields.First(f => f.StartsWith("DEVPATH=", StringComparison.Ordinal))[8..];
                blocks.Add((header, Encoding.UTF8.GetBytes($"{action}@{devpath}\0{string.Join('\0', fields)}\0")));
                (header, fields) = (null, []);
            }
        }
        return blocks;
    }

    [Fact]
    public void TheCapture_HasItsEighteenEvents_AndEachParses()
    {
        var capture = Capture();

        Assert.Equal(18, capture.Count);
        Assert.All(capture, c => Assert.NotNull(Uevent.Parse(c.Message)));
    }

    [Theory]
    [InlineData("KERNEL[20.267506] change   /devices/virtual/mtty/mtty (mtty)", true)]                  // MDEV_STATE=unregistered
    [InlineData("KERNEL[21.534243] change   /devices/virtual/mtty/mtty (mtty)", true)]                  // MDEV_STATE=registered
    [InlineData("KERNEL[22.637698] add      /devices/virtual/mtty/mtty/12345678-0000-4000-8000-000000000001 (mdev)", true)]
    [InlineData("KERNEL[23.799304] remove   /devices/virtual/mtty/mtty/12345678-0000-4000-8000-000000000001 (mdev)", true)]
    [InlineData("KERNEL[22.654826] add      /devices/virtual/vfio/0 (vfio)", true)]
    [InlineData("KERNEL[23.761429] remove   /devices/virtual/vfio/0 (vfio)", true)]
    [InlineData("KERNEL[22.672965] bind     /devices/virtual/mtty/mtty/12345678-0000-4000-8000-000000000001 (mdev)", false)]
    [InlineData("KERNEL[22.663244] add      /devices/virtual/mtty/mtty/12345678-0000-4000-8000-000000000001/vfio-dev/vfio0 (vfio-dev)", false)]
    [InlineData("KERNEL[21.539880] add      /module/mtty (module)", false)]
    [InlineData("KERNEL[20.291490] remove   /bus/mdev/drivers/mtty (drivers)", false)]
    [InlineData("KERNEL[21.526684] add      /devices/virtual/mtty/mtty (mtty)", false)]                // the device, before it registers
    public void OnlyParentsRegisteringDevicesAndVfioGroups_TriggerAPass(string header, bool matters)
    {
        var e = Uevent.Parse(Capture().Single(c => c.Header == header).Message)!;

        Assert.Equal(matters, e.MattersToGvtd);
    }

    [Fact]
    public void TheNetlinkSocket_OpensOnThisKernel_AndStopsOnDispose()
    {
        using var socket = Gvtd.Interop.UeventSocket.TryOpen(_ => { }, out var error);

        Assert.True(socket is not null, error);
    }

    [Fact]
    public void ALostMessage_Matters_AndLibudevsOwnFormatIsIgnored()
    {
        Assert.True(Uevent.Parse([])!.MattersToGvtd);
        Assert.Null(Uevent.Parse("libudev\0\u00fe\u00ed\u00ca\u00fe"u8));
    }
}
