using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Sysfs;
using Microsoft.Extensions.Logging;

namespace Gvtd.Applying;

/// <summary>
/// Carries out planned SR-IOV changes, in the order the kernel and the drivers need: autoprobe off
/// (so no host driver grabs a new VF), provisioning values, the count, then each VF bound with
/// driver_override and drivers_probe (never new_id, which could capture the PF itself), checked by
/// its driver link, because drivers_probe reports success even when the probe failed. Every write
/// goes through the applier's timed writes, keyed by the PF: `echo 0 > sriov_numvfs` blocks,
/// unkillably, while a VM holds a VF.
/// </summary>
public sealed class FunctionApplier(Applier writes, SysfsRoot root, ILogger<FunctionApplier> logger)
{
    public async Task<IReadOnlyList<FunctionOutcome>> ApplyAsync(IEnumerable<FunctionAction> actions)
    {
        var outcomes = new List<FunctionOutcome>();
        foreach (var action in actions.Where(a => a.ChangesSomething))
            outcomes.Add(await ApplyOneAsync(action));
        return outcomes;
    }

    private async Task<FunctionOutcome> ApplyOneAsync(FunctionAction action)
    {
        if (writes.IsBusy(action.Address))
            return new(action, OutcomeKind.Pending, "an earlier write to this device has not returned yet");
        var pf = action.Observed!;
        try
        {
            if (action.Kind is FunctionActionKind.Disable or FunctionActionKind.Reset)
            {
                if (!await WriteAsync(action, SysfsRoot.NumVfsFile(pf.SysfsPath), "0"))
                    return TimedOut(action, "disabling its VFs");
                logger.LogInformation("Disabled the {Count} VF(s) of {Address}: {Reason}", pf.NumVfs, action.Address, action.Reason);
                if (action.Kind == FunctionActionKind.Disable) return new(action, OutcomeKind.Removed);
            }
            var want = action.Desired!;
            if (action.Kind is FunctionActionKind.Enable or FunctionActionKind.Reset)
            {
                if (pf.AutoProbe) await WriteAsync(action, SysfsRoot.AutoProbeFile(pf.SysfsPath), "0");
                var provisioned = await ProvisionAsync(action, pf, want, []);
                if (!await WriteAsync(action, SysfsRoot.NumVfsFile(pf.SysfsPath), want.Vfs.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                    return TimedOut(action, "enabling its VFs");
                logger.LogInformation("Enabled {Count} VF(s) on {Address}", want.Vfs, action.Address);
                // Some drivers make a VF's provisioning directory only once the VF exists.
                await ProvisionAsync(action, pf, want, provisioned);
            }
            foreach (var (_, address, path) in PciFunctionReader.VfLinks(pf.SysfsPath))
                if (await BindAsync(action, want, address, path) is { } failed) return failed;
            return new(action, OutcomeKind.Created);
        }
        catch (KernelWriteException e)
        {
            return Fail(action, Describe(e, action));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(action, $"reading {action.Address}'s VFs failed: {e.Message}");
        }
    }

    /// <summary>Writes each declared value to every VF directory that exists and is not written yet; returns those written.</summary>
    private async Task<HashSet<int>> ProvisionAsync(FunctionAction action, PhysicalFunction pf, DesiredFunction want, HashSet<int> done)
    {
        // Where the driver keeps them is all that is needed here; what they hold now, the planner has seen.
        if (want.Provision.Count == 0 || ProvisioningLayout.Find(root, pf.SysfsPath, pf.Driver) is not var (layout, found))
            return done;
        var written = new HashSet<int>(done);
        for (var n = 1; n <= want.Vfs; n++)
        {
            var dir = layout.VfDirectory(found, n);
            if (written.Contains(n) || !Directory.Exists(dir)) continue;
            foreach (var (name, value) in want.Provision)
                if (await WriteAsync(action, Path.Combine(dir, name), value))
                    ReadBack(action, n, Path.Combine(dir, name), value);
            written.Add(n);
        }
        if (written.Count > done.Count)
            logger.LogInformation("Provisioned VF(s) {Numbers} of {Address} ({Layout}): {Values}", string.Join(",", written.Except(done).Order()), action.Address,
                layout.Name, string.Join(", ", want.Provision.Select(p => $"{p.Key}={p.Value}")));
        return written;
    }

    /// <summary>
    /// Reads back what the driver kept of a value just written: drivers parse and round (020 is kept
    /// as 20, a quota is aligned), and what it keeps is what the planner compares, as the driver keeps
    /// it. A value kept otherwise is said here, once per write; the planner then resets the VFs at most
    /// once for it (never churn).
    /// </summary>
    private void ReadBack(FunctionAction action, int number, string path, string value)
    {
        string kept;
        try
        {
            kept = File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // write-only or unreadable: nothing to compare, as in the reader
        }
        if (!ObservedProvisioning.SameValue(kept, value))
            logger.LogWarning("The driver of {Address} keeps {Name} {Kept} for the declared {Value} (VF {Number})", action.Address, Path.GetFileName(path), kept, value, number);
    }

    /// <summary>Sets the NVIDIA vGPU type if declared, then binds the VF to the declared driver unless it is on one.</summary>
    private async Task<FunctionOutcome?> BindAsync(FunctionAction action, DesiredFunction want, string address, string path)
    {
        var driver = SysfsReader.LinkName(path, "driver") ?? "";
        if (driver.Length > 0 && driver != want.Driver) return null; // the planner says why it is left alone
        if (want.VGpuType is { } type && await SetNvidiaTypeAsync(action, address, path, type) is { } failed)
            return failed;
        if (driver == want.Driver) return null;
        // driver_override is lost whenever a VF is re-created, so it is written every time.
        await WriteAsync(action, SysfsRoot.DriverOverrideFile(path), want.Driver);
        await WriteAsync(action, root.PciDriversProbe, address);
        var now = SysfsReader.LinkName(path, "driver") ?? "";
        if (now != want.Driver)
            return Fail(action, $"the kernel did not bind VF {address} to {want.Driver} (drivers_probe reports success even when the probe fails): "
                + (want.Driver == DesiredFunction.DefaultDriver
                    ? "is the vfio-pci module loaded, and is the IOMMU on (intel_iommu=on)? dmesg says why"
                    : $"is the {want.Driver} module loaded? dmesg says why"));
        logger.LogInformation("Bound VF {Vf} of {Address} to {Driver}", address, action.Address, want.Driver);
        return null;
    }

    private async Task<FunctionOutcome?> SetNvidiaTypeAsync(FunctionAction action, string address, string path, string type)
    {
        // Read again now: what a VF can take changes as its siblings take types.
        var nvidia = PciFunctionReader.ReadNvidia(path) ?? new NvidiaVf("", []);
        var id = nvidia.Creatable.FirstOrDefault(c => c.Id == type || c.Name == type).Id;
        if (nvidia.Current == type || (id is not null && nvidia.Current == id)) return null;
        if (id is null) return Fail(action, $"VF {address} cannot take vGPU type {type} now (creatable: {string.Join(", ", nvidia.Creatable.Select(c => $"{c.Id} {c.Name}"))})");
        await WriteAsync(action, SysfsRoot.NvidiaTypeFile(path), id);
        logger.LogInformation("Set vGPU type {Type} ({Id}) on VF {Vf}", type, id, address);
        return null;
    }

    /// <summary>True when written; false when it had not returned within the timeout. Throws on errno.</summary>
    private Task<bool> WriteAsync(FunctionAction action, string path, string value) => writes.WriteTimedAsync(action.Address, path, value);

    private static string Describe(KernelWriteException e, FunctionAction action)
    {
        var file = Path.GetFileName(e.Path);
        return (file, e.Errno) switch
        {
            ("sriov_numvfs", Errno.ENOENT) => $"no driver is bound to {action.Address}, and the kernel changes no VF count without one; gvtd sets it up when the driver binds",
            ("sriov_numvfs", Errno.EBUSY) => $"the kernel refused to change the VF count of {action.Address} (EBUSY: VFs are already enabled, or a VF is in use); gvtd tries again",
            ("sriov_numvfs", Errno.ERANGE) => $"{action.Address} offers fewer VFs than declared (ERANGE); see sriov_totalvfs and the driver's max_vfs",
            ("sriov_numvfs", var errno) => $"the PF driver of {action.Address} refused to set {action.WantedVfs} VFs ({errno}); dmesg says why (for i915: enable_guc=3 and max_vfs)",
            ("drivers_probe" or "driver_override", var errno) => $"binding a VF of {action.Address} failed ({errno})",
            (_, Errno.EACCES or Errno.EPERM) => "permission denied writing to sysfs: gvtd must run as root",
            (_, var errno) => $"writing {e.Path} failed ({errno}); the driver refused the value",
        };
    }

    private FunctionOutcome TimedOut(FunctionAction action, string what)
    {
        logger.LogWarning("{What} of {Address} did not return within {Timeout}s; it is still pending in the kernel", what, action.Address, writes.WriteTimeout.TotalSeconds);
        return new(action, OutcomeKind.TimedOut, $"the kernel has not finished {what} after {writes.WriteTimeout.TotalSeconds:0}s (is a VM holding a VF?)");
    }

    private FunctionOutcome Fail(FunctionAction action, string error)
    {
        logger.LogError("Failed to {Action} the VFs of {Address}: {Error}", action.KindName, action.Address, error);
        return new(action, OutcomeKind.Failed, error);
    }
}
