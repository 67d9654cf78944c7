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
                await WriteAsync(action, SysfsRoot.NumVfsFile(pf.SysfsPath), "0", "disabling its VFs");
                logger.LogInformation("Disabled the {Count} VF(s) of {Address}: {Reason}", pf.NumVfs, action.Address, action.Reason);
                if (action.Kind == FunctionActionKind.Disable) return new(action, OutcomeKind.Removed);
            }
            var want = action.Desired!;
            if (action.Kind is FunctionActionKind.Enable or FunctionActionKind.Reset)
            {
                if (pf.AutoProbe) await WriteAsync(action, SysfsRoot.AutoProbeFile(pf.SysfsPath), "0", $"turning off sriov_drivers_autoprobe of {action.Address}");
                var provisioned = await ProvisionAsync(action, pf, want, []);
                await WriteAsync(action, SysfsRoot.NumVfsFile(pf.SysfsPath), want.Vfs.ToString(System.Globalization.CultureInfo.InvariantCulture), "enabling its VFs");
                logger.LogInformation("Enabled {Count} VF(s) on {Address}", want.Vfs, action.Address);
                // Some drivers make a VF's provisioning directory only once the VF exists.
                await ProvisionAsync(action, pf, want, provisioned);
            }
            // A VF that cannot be bound says so, and the others are bound all the same.
            var failures = new List<string>();
            foreach (var (_, address, path) in PciFunctionReader.VfLinks(pf.SysfsPath))
            {
                try
                {
                    if (await BindAsync(action, want, address, path) is { } failed) failures.Add(failed);
                }
                catch (KernelWriteException e)
                {
                    failures.Add(Describe(e, action, address));
                }
            }
            return failures.Count > 0 ? Fail(action, string.Join("; ", failures)) : new(action, OutcomeKind.Created);
        }
        catch (WriteTimedOut stuck)
        {
            // The write goes on in the kernel and keeps the PF busy: nothing more is written behind
            // it, and what it did is seen at the pass after it returns.
            return TimedOut(action, stuck.What);
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
            {
                // A write that has not returned throws: only a value the kernel took is read back.
                await WriteAsync(action, Path.Combine(dir, name), value, $"writing {name} for VF {n}");
                ReadBack(action, n, Path.Combine(dir, name), value);
            }
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

    /// <summary>Sets the NVIDIA vGPU type if declared, then binds the VF to the declared driver unless it is on one; returns why not, if not.</summary>
    private async Task<string?> BindAsync(FunctionAction action, DesiredFunction want, string address, string path)
    {
        var driver = SysfsReader.LinkName(path, "driver") ?? "";
        if (driver.Length > 0 && driver != want.Driver) return null; // the planner says why it is left alone
        if (want.VGpuType is { } type && await SetNvidiaTypeAsync(action, address, path, type) is { } failed)
            return failed;
        if (driver == want.Driver) return null;
        // driver_override is lost whenever a VF is re-created, so it is written every time.
        await WriteAsync(action, SysfsRoot.DriverOverrideFile(path), want.Driver, $"binding VF {address} to {want.Driver} (driver_override)");
        await WriteAsync(action, root.PciDriversProbe, address, $"binding VF {address} to {want.Driver} (drivers_probe)");
        // Both writes returned: only now does a missing driver link mean the probe failed.
        var now = SysfsReader.LinkName(path, "driver") ?? "";
        if (now != want.Driver)
            return $"the kernel did not bind VF {address} to {want.Driver} (drivers_probe reports success even when the probe fails): "
                + (want.Driver == DesiredFunction.DefaultDriver
                    ? "is the vfio-pci module loaded, and is the IOMMU on (intel_iommu=on)? dmesg says why"
                    : $"is the {want.Driver} module loaded? dmesg says why");
        logger.LogInformation("Bound VF {Vf} of {Address} to {Driver}", address, action.Address, want.Driver);
        return null;
    }

    private async Task<string?> SetNvidiaTypeAsync(FunctionAction action, string address, string path, string type)
    {
        // Read again now: what a VF can take changes as its siblings take types.
        var nvidia = PciFunctionReader.ReadNvidia(path) ?? new NvidiaVf("", []);
        var id = nvidia.Creatable.FirstOrDefault(c => c.Id == type || c.Name == type).Id;
        if (nvidia.Current == type || (id is not null && nvidia.Current == id)) return null;
        if (id is null) return $"VF {address} cannot take vGPU type {type} now (creatable: {string.Join(", ", nvidia.Creatable.Select(c => $"{c.Id} {c.Name}"))})";
        await WriteAsync(action, SysfsRoot.NvidiaTypeFile(path), id, $"setting vGPU type {type} on VF {address}");
        logger.LogInformation("Set vGPU type {Type} ({Id}) on VF {Vf}", type, id, address);
        return null;
    }

    /// <summary>
    /// Writes through the applier's timed path, keyed by the PF; throws <see cref="WriteTimedOut"/>
    /// when the write had not returned within the timeout (<paramref name="what"/> says what it was
    /// for), and <see cref="KernelWriteException"/> when the kernel refused it.
    /// </summary>
    private async Task WriteAsync(FunctionAction action, string path, string value, string what)
    {
        if (!await writes.WriteTimedAsync(action.Address, path, value)) throw new WriteTimedOut(what);
    }

    /// <summary>A write of a PF's sequence that has not returned: the sequence stops there.</summary>
    private sealed class WriteTimedOut(string what) : Exception(what)
    {
        public string What { get; } = what;
    }

    /// <summary>The kernel's refusal in words; <paramref name="vf"/> names the VF a bind was for.</summary>
    private static string Describe(KernelWriteException e, FunctionAction action, string? vf = null)
    {
        var file = Path.GetFileName(e.Path);
        return (file, e.Errno) switch
        {
            ("sriov_numvfs", Errno.ENOENT) => $"no driver is bound to {action.Address}, and the kernel changes no VF count without one; gvtd sets it up when the driver binds",
            ("sriov_numvfs", Errno.EBUSY) => $"the kernel refused to change the VF count of {action.Address} (EBUSY: VFs are already enabled, or a VF is in use); gvtd tries again",
            ("sriov_numvfs", Errno.ERANGE) => $"{action.Address} offers fewer VFs than declared (ERANGE); see sriov_totalvfs and the driver's max_vfs",
            ("sriov_numvfs", var errno) => $"the PF driver of {action.Address} refused to set {action.WantedVfs} VFs ({errno}); dmesg says why (for i915: enable_guc=3 and max_vfs)",
            ("drivers_probe" or "driver_override", var errno) => $"binding {(vf is null ? "a VF" : $"VF {vf}")} of {action.Address} failed ({errno})",
            (_, Errno.EACCES or Errno.EPERM) => "permission denied writing to sysfs: gvtd must run as root",
            (_, var errno) => $"writing {e.Path} failed ({errno}); the driver refused the value",
        };
    }

    private FunctionOutcome TimedOut(FunctionAction action, string what)
    {
        logger.LogWarning("The write for {What} (SR-IOV PF {Address}) did not return within {Timeout}s; it is still pending in the kernel, and gvtd writes nothing more to this PF until it returns",
            what, action.Address, writes.WriteTimeout.TotalSeconds);
        return new(action, OutcomeKind.TimedOut, $"the kernel has not finished {what} after {writes.WriteTimeout.TotalSeconds:0}s "
            + "(it may be waiting for a VM to let go of a VF); gvtd goes on once the write returns");
    }

    private FunctionOutcome Fail(FunctionAction action, string error)
    {
        logger.LogError("Failed to {Action} the VFs of {Address}: {Error}", action.KindName, action.Address, error);
        return new(action, OutcomeKind.Failed, error);
    }
}
