using Gvtd.Contract;
using Gvtd.Sysfs;

namespace Gvtd.DesiredState;

/// <summary>
/// gvtd --check-config [FILE], like sshd -t or nginx -t: loads the file and its drop-ins exactly as
/// the daemon does, prints every error as file:line:column, or one line saying it is valid and how
/// many vGPUs it declares. Touches nothing and needs neither root nor a bus, so it fits editors,
/// package scripts and Ansible's validate. With --sysfs-root, types and parents are also checked
/// against that tree, as warnings only: a parent's driver may load later.
/// </summary>
public static class ConfigCheck
{
    /// <param name="againstSysfs">Whether --sysfs-root was given: only then are parents and types checked, in <c>roots.Sys</c>.</param>
    public static int Run(HostRoots roots, bool againstSysfs, TextWriter output, TextWriter errors)
    {
        var mainFile = roots.ConfigFile;
        DesiredStateSnapshot state;
        try
        {
            state = new DesiredStateLoader(mainFile, roots.Runtime).Load();
        }
        catch (InvalidConfigException e)
        {
            foreach (var error in e.Errors) errors.WriteLine(error);
            errors.WriteLine($"gvtd: {mainFile}: {e.Errors.Count} error(s); the daemon would keep its last valid state");
            return 1;
        }

        if (againstSysfs)
            foreach (var warning in Against(state, roots)) errors.WriteLine("warning: " + warning);
        var functions = state.Functions.Count > 0 ? $" and {state.Functions.Count} SR-IOV PF(s)" : "";
        output.WriteLine($"gvtd: {mainFile} is valid: {state.VGpus.Count} vGPU(s){functions} declared in {state.Files.Count} file(s)");
        return 0;
    }

    private static IEnumerable<string> Against(DesiredStateSnapshot state, HostRoots roots)
    {
        var sysfsRoot = roots.Sys;
        // Parents only: devices, and so who holds them, do not matter here.
        var parents = new SysfsReader(new SysfsRoot(sysfsRoot), new VfioUsers(roots.Proc, roots.Dev)).ReadParents();
        foreach (var want in state.VGpus)
        {
            if (!parents.TryGetValue(want.Parent, out var parent))
                yield return $"{want.Source}: parent {UserText.Quote(want.Parent)} is not in {sysfsRoot} (its driver may not be loaded yet)";
            else if (parent.FindType(want.Type) is null)
                yield return $"{want.Source}: parent {want.Parent} has no type {UserText.Quote(want.Type)} (available: {(parent.Types.Count == 0 ? "none" : string.Join(", ", parent.Types.Select(t => t.Id)))})";
        }
        // SR-IOV PFs: only the files the PCI core shows, never sriov_numvfs (reading it can block).
        var pci = new SysfsRoot(sysfsRoot);
        foreach (var want in state.Functions)
        {
            var dir = pci.PciDevice(want.Address);
            var total = Path.Combine(dir, "sriov_totalvfs");
            if (!Path.Exists(dir))
                yield return $"{want.Source}: pf {want.Address} is not in {sysfsRoot} (no such PCI device)";
            else if (!File.Exists(total))
                yield return $"{want.Source}: pf {want.Address} has no SR-IOV (no sriov_totalvfs)";
            else if (int.TryParse(File.ReadAllText(total).Trim(), out var offered) && want.Vfs > offered)
                yield return $"{want.Source}: pf {want.Address} offers {offered} VFs, {want.Vfs} declared";
        }
    }
}
