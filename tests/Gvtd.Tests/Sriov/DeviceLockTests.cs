using System.Runtime.InteropServices;
using Gvtd.Simulation;
using Gvtd.Sysfs;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Sriov;

/// <summary>
/// An unbind waiting for a VM holds the VF's device lock; in Linux 6.1 reading driver_override
/// takes that lock (docs/kernel/device-lock.md). The simulator blocks that read as the kernel does,
/// and gvtd's reader, which every pass and RemoveVGpu/AddVGpu use, must not wait on it.
/// </summary>
public sealed partial class DeviceLockTests : IDisposable
{
    private const string Pf = SimulatedSriovGpu.PciAddress;
    private const string Vf = "0000:00:02.1";
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);
    private readonly TempDir _dir = new();
    private readonly SimulatedHost _host;

    public DeviceLockTests() => _host = new SimulatedHost(_dir, gpu: SimulatedGpu.Gen12);

    public void Dispose() => _dir.Dispose();

    private async Task EnableTwoVfsAsync()
    {
        Assert.True(_host.Configure($"vgpus: []\nsriov:\n  - pf: \"{Pf}\"\n    vfs: 2\n"));
        await _host.PassAsync();
    }

    private string ProcRoot => _dir.Combine("proc");

    [LibraryImport("libc.so.6")] private static partial int gettid();

    /// <summary>
    /// Waits (hang guard) until thread <paramref name="tid"/> of this process sleeps in open(2) of a
    /// FIFO, waiting for a writer: the kernel's own word that the read blocks, not a guess from time passing.
    /// </summary>
    private static void UntilWaitingInFifoOpen(Func<int> tid)
    {
        string Wchan() => tid() is var t and > 0 && File.Exists($"/proc/self/task/{t}/wchan") ? File.ReadAllText($"/proc/self/task/{t}/wchan").Trim() : "";
        Assert.True(SpinWait.SpinUntil(() => Wchan() is "wait_for_partner" or "fifo_open", HangGuard),
            $"hang guard: the reading thread was not seen waiting in a FIFO's open(2) within 60 s (its wchan: {Wchan()})");
    }

    private static Task<T> OnOwnThread<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    [Fact]
    public async Task A_waiting_unbind_blocks_reads_of_driver_override_and_writes_that_take_the_lock_until_the_vm_lets_go()
    {
        await EnableTwoVfsAsync();
        var overrideFile = SysfsRoot.DriverOverrideFile(_host.Core.Root.PciDevice(Vf));

        var unbind = _host.Core.BeginStuckUnbind(Vf, ProcRoot);
        Assert.Null(new FileInfo(Path.Combine(_host.Core.Root.PciDevice(Vf), "driver")).LinkTarget); // the link goes at once
        var readerTid = 0;
        var read = OnOwnThread(() =>
        {
            Volatile.Write(ref readerTid, gettid());
            return File.ReadAllText(overrideFile);
        });
        var write = OnOwnThread(() => { _host.Core.Write(overrideFile, "vfio-pci"); return true; });
        var other = SysfsRoot.DriverOverrideFile(_host.Core.Root.PciDevice("0000:00:02.2"));
        _host.Core.Write(other, "vfio-pci"); // another VF's lock is free
        Assert.Equal("vfio-pci\n", File.ReadAllText(other));
        UntilWaitingInFifoOpen(() => Volatile.Read(ref readerTid));
        Assert.True(SpinWait.SpinUntil(() => _host.Core.WritesWaitingOnDeviceLocks == 1, HangGuard),
            "hang guard: the write of driver_override was not seen waiting for the device lock within 60 s");
        Assert.False(read.IsCompleted, "the read of driver_override returned while the unbind held the lock");
        Assert.False(write.IsCompleted, "the write of driver_override returned while the unbind held the lock");
        Assert.Equal([$"{overrideFile} vfio-pci"], _host.Core.WritesThatWaited(Vf));

        unbind.Dispose();
        Assert.Equal("vfio-pci", (await read.WaitAsync(HangGuard)).Trim());
        Assert.True(await write.WaitAsync(HangGuard));
        Assert.Equal("vfio-pci\n", File.ReadAllText(overrideFile));
        Assert.False(Directory.Exists(Path.Combine(_host.Core.Root.PciDevice(Vf), "vfio-dev")));
    }

    [Fact]
    public async Task The_reader_answers_while_an_unbind_waits_and_sees_the_vf_without_a_driver()
    {
        await EnableTwoVfsAsync();
        using var unbind = _host.Core.BeginStuckUnbind(Vf, ProcRoot);

        var read = OnOwnThread(() => _host.Reader.Read(freshUsers: true, functions: new HashSet<string> { Pf }));
        ObservedState observed;
        try
        {
            observed = await read.WaitAsync(HangGuard);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"hang guard: reading sysfs did not return in 60 s while an unbind of {Vf} waited", e);
        }

        var vfs = observed.Sriov.Functions[Pf].Vfs;
        Assert.Equal(["", "vfio-pci"], vfs.Select(v => v.Driver));
        Assert.Equal([DeviceUse.Held, DeviceUse.Free], vfs.Select(v => v.Use)); // the VM the unbind waits for
        Assert.Null(observed.Sriov.Blind);
    }
}
