using Gvtd.Sysfs;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Sysfs;

/// <summary>The /proc scan is cached until /dev/vfio sees an open or close; removals always rescan.</summary>
public sealed class VfioUsersTests : IDisposable
{
    private readonly TempDir _dir = new();
    private string Proc => _dir.Combine("proc");
    private string Dev => _dir.Combine("dev");

    public VfioUsersTests() => Directory.CreateDirectory(Proc);

    public void Dispose() => _dir.Dispose();

    private void Hold(int pid, string target)
    {
        var fd = Path.Combine(Proc, pid.ToString(), "fd");
        Directory.CreateDirectory(fd);
        File.CreateSymbolicLink(Path.Combine(fd, "4"), target);
    }

    [Fact]
    public void Read_WithoutDevVfioInSight_ScansEveryTime()
    {
        // As under PrivateDevices=yes: the host's /dev/vfio is not visible, yet VMs hold groups.
        using var users = new VfioUsers(Proc, Dev);
        Assert.Empty(users.Read().Groups);

        Hold(1234, "/dev/vfio/0");

        Assert.Equal([0], users.Read().Groups);
    }

    [Fact]
    public void Read_DevVfioGoneAfterAWatch_ScansAgainInsteadOfTrustingTheDeadWatch()
    {
        var vfio = Path.Combine(Dev, "vfio");
        Directory.CreateDirectory(vfio);
        using var users = new VfioUsers(Proc, Dev);
        Assert.Empty(users.Read().Groups);
        Directory.Delete(vfio);

        Hold(1234, "/dev/vfio/3");

        Assert.Equal([3], users.Read().Groups);
    }

    [Fact]
    public void Read_NothingOpenedOrClosed_ReusesTheLastScan_ButFreshRescans()
    {
        Directory.CreateDirectory(Path.Combine(Dev, "vfio"));
        using var users = new VfioUsers(Proc, Dev);
        Assert.Empty(users.Read().Groups);

        Hold(1234, "/dev/vfio/7"); // appears in /proc without anything in /dev/vfio being touched

        Assert.Empty(users.Read().Groups);
        Assert.Equal([7], users.Read(fresh: true).Groups);
    }

    [Fact]
    public void Read_AfterAFileInDevVfioIsOpened_ScansAgain()
    {
        var vfio = Path.Combine(Dev, "vfio");
        Directory.CreateDirectory(vfio);
        File.WriteAllText(Path.Combine(vfio, "7"), "");
        using var users = new VfioUsers(Proc, Dev);
        Assert.Empty(users.Read().Groups);

        using var seen = new ManualResetEventSlim();
        users.OpenedOrClosed += seen.Set;

        Hold(1234, "/dev/vfio/7");
        File.ReadAllText(Path.Combine(vfio, "7")); // what QEMU's open does to the watch

        // Once the watch has reported the open (a hang guard on its thread, not a deadline), the
        // next read must scan again: no poll whose verdict depends on how soon that thread ran.
        Assert.True(seen.Wait(TimeSpan.FromSeconds(60)), "hang guard: the /dev/vfio watch reported no open within 60 s");
        Assert.Equal([7], users.Read().Groups);
    }
}
