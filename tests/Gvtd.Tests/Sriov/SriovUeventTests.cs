using System.Text;
using Gvtd.Sysfs;

namespace Gvtd.Tests.Sriov;

/// <summary>The PCI uevents a probe of Linux 6.1's SR-IOV core recorded (docs/kernel/uevents.md).</summary>
public sealed class SriovUeventTests
{
    private static Uevent Parse(string header, params string[] fields) =>
        Uevent.Parse(Encoding.UTF8.GetBytes(string.Join('\0', [header, .. fields]) + "\0"))!;

    [Theory]
    // A VF appearing (echo 2 > sriov_numvfs), bound to vfio-pci, unbound and removed (echo 0).
    [InlineData("add@/devices/pci0000:00/0000:00:03.1", "ACTION=add", "SUBSYSTEM=pci", "PCI_SLOT_NAME=0000:00:03.1")]
    [InlineData("bind@/devices/pci0000:00/0000:00:03.1", "ACTION=bind", "SUBSYSTEM=pci", "DRIVER=vfio-pci")]
    [InlineData("unbind@/devices/pci0000:00/0000:00:03.1", "ACTION=unbind", "SUBSYSTEM=pci")]
    [InlineData("remove@/devices/pci0000:00/0000:00:03.2", "ACTION=remove", "SUBSYSTEM=pci")]
    // The PF's driver binding late.
    [InlineData("bind@/devices/pci0000:00/0000:00:03.0", "ACTION=bind", "SUBSYSTEM=pci", "DRIVER=nvme")]
    public void What_changes_vfs_or_their_drivers_matters(string header, params string[] fields) =>
        Assert.True(Parse(header, fields).MattersToGvtd);

    [Theory]
    // The PF's change after enabling comes after every VF's add; hwmon and nvme children are not gvtd's business.
    [InlineData("change@/devices/pci0000:00/0000:00:03.0", "ACTION=change", "SUBSYSTEM=pci", "DRIVER=nvme")]
    [InlineData("remove@/devices/pci0000:00/0000:00:03.0/nvme/nvme0/hwmon0", "ACTION=remove", "SUBSYSTEM=hwmon")]
    public void The_rest_does_not(string header, params string[] fields) =>
        Assert.False(Parse(header, fields).MattersToGvtd);
}
