using System.Reflection;
using Gvtd.Interop;

namespace Gvtctl;

internal static class Program
{
    public static string Version
    {
        get
        {
            var v = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
            int plus = v.IndexOf('+');
            return plus >= 0 ? v[..plus] : v;
        }
    }

    private static int Main(string[] args)
    {
        bool verbose = args.Contains("--verbose") || args.Contains("-v");
        try
        {
            var cl = CommandLine.Parse(args);
            verbose = cl.Verbose;
            var term = Terminal.FromConsole();
            if (cl.Version)
            {
                Std.Out.WriteLine($"gvtctl {Version}");
                return ExitCodes.Ok;
            }
            if (cl.Command is null)
            {
                if (cl.Help) { Std.Out.Write(Help.Main); return ExitCodes.Ok; }
                throw CommandLine.Usage("no command given");
            }
            if (cl.Command == "help")
            {
                cl.Expect("[COMMAND]");
                if (cl.Operands.Count == 0) { Std.Out.Write(Help.Main); return ExitCodes.Ok; }
                var topic = cl.Operands[0];
                if (!CommandLine.Commands.Contains(topic)) throw CommandLine.Usage($"no help for '{topic}'");
                Std.Out.Write(Help.For(topic));
                return ExitCodes.Ok;
            }
            if (cl.Help)
            {
                Std.Out.Write(Help.For(cl.Command));
                return ExitCodes.Ok;
            }
            return Commands.Run(cl, term);
        }
        catch (Gvtd.Interop.Stdio.ReaderGoneException)
        {
            return ExitCodes.Ok; // `gvtctl list | head -1`
        }
        catch (CliException e)
        {
            var suffix = verbose && e.BusError is not null ? $" [{e.BusError}]" : "";
            Std.Err.WriteLine($"gvtctl: {GvtdClient.OneLine(e.Message)}{suffix}");
            return e.ExitCode;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Std.Err.WriteLine($"gvtctl: {GvtdClient.OneLine(e.Message)}{(verbose ? $" [{e.GetType().Name}]" : "")}");
            return ExitCodes.Failure;
        }
    }
}

internal static class Help
{
    public const string Main = """
        Usage: gvtctl [--json] [--verbose] [--bus system|user] COMMAND [ARGS]

        Show and change the vGPUs and SR-IOV virtual functions gvtd keeps (D-Bus service org.gvtd.Gvtd1).

        Commands:
          status                    daemon state, config files and errors, last pass, counts
          list                      every declared or present vGPU, SR-IOV PF and VF
          types [PARENT]            the mdev types each parent offers, with GVT-g resolution and memory
          plan                      what the next pass would do to vGPUs and PFs, and why
          add TYPE [--parent P] [--uuid U] [--runtime]
                                    declare a vGPU in gvtd's own drop-in and create it
          remove UUID               drop a vGPU gvtd's drop-in declares
          reconcile                 run a pass now
          reload                    re-read the desired-state files, then run a pass
          qemu-args UUID|VF         the QEMU -device argument for a vGPU or an SR-IOV VF
          libvirt-xml UUID|VF       the libvirt <hostdev> element for a vGPU or an SR-IOV VF
          doctor [--sysfs-root DIR] [--proc-root DIR]
                                    check the host for what GVT-g and SR-IOV need (no daemon needed)
          help [COMMAND]            this text, or one command's

        Options:
          --json            machine-readable output (documented in gvtctl(1))
          --verbose, -v     errors also name the D-Bus error
          --bus system|user the bus gvtd is on (default system; DBUS_SYSTEM_BUS_ADDRESS is honoured)
          --help, -h        help; --version: the version

        Exit status: 0 ok, 1 failed or refused, 2 usage, 3 gvtd not running, 4 not all declared vGPUs active.

        """;

    public static string For(string command) => command switch
    {
        "status" => """
            Usage: gvtctl status [--json]

            Shows gvtd's state, its config file(s) and any error in them, the last pass and the counts.
            Exit status 0 only when the config is valid and every declared vGPU is active, else 4.

            """,
        "list" => """
            Usage: gvtctl list [--json]

            Every vGPU gvtd declares or sees: uuid, name, type, parent, state and whether a VM holds it.

            """,
        "types" => """
            Usage: gvtctl types [PARENT] [--json]

            The mdev types each parent (or PARENT only) offers, with the instances still available, and
            for GVT-g types the resolution and graphics memory (low + high GM) of one vGPU.

            """,
        "plan" => """
            Usage: gvtctl plan [--json]

            What the next pass would do for each vGPU (create, remove, recreate, keep, blocked, ignore) and
            each SR-IOV PF (enable, disable, reset: through 0 VFs, bind, keep, blocked, ignore), and why.
            Changes nothing.

            """,
        "add" => """
            Usage: gvtctl add TYPE [--parent PARENT] [--uuid UUID] [--runtime]

            Declares a vGPU of TYPE in gvtd's own drop-in (vgpus.d/dbus.yaml beside the main file; with
            --runtime in /run/gvtd/vgpus.d/, gone at reboot) and creates it. Without --parent, the only
            parent is used. Without --uuid, gvtd makes one; the UUID is printed.
            --name is not supported: gvtd's D-Bus AddVGpu takes no name (give one in your YAML file).
            Needs root or polkit's org.gvtd.Gvtd1.manage.

            """,
        "remove" => """
            Usage: gvtctl remove UUID

            Drops a vGPU declared in gvtd's own drop-in and removes it. One declared in your file is
            refused with the file and line to edit; one a VM holds is refused too.
            Needs root or polkit's org.gvtd.Gvtd1.manage.

            """,
        "reconcile" => """
            Usage: gvtctl reconcile [--json]

            Runs a pass now and prints how many vGPUs were created, removed, and failed.
            Needs root or polkit's org.gvtd.Gvtd1.manage.

            """,
        "reload" => """
            Usage: gvtctl reload

            Re-reads the desired-state files, then runs a pass. An invalid file is reported with
            file:line:column and changes nothing. Needs root or polkit's org.gvtd.Gvtd1.manage.

            """,
        "qemu-args" => """
            Usage: gvtctl qemu-args UUID|VF [--json]

            The QEMU argument that gives a VM this vGPU. On a GVT-g parent (driver i915) it adds
            display=on and x-igd-opregion=on, for the vGPU's display and the guest driver's OpRegion.
            For an SR-IOV VF (its PCI address, such as 0000:00:02.1): -device vfio-pci,host=VF.

            """,
        "libvirt-xml" => """
            Usage: gvtctl libvirt-xml UUID|VF [--json]

            The <hostdev> element for a libvirt domain (virsh edit VM, inside <devices>). On a GVT-g
            parent it has display='on'. For an SR-IOV VF it is type='pci' with managed='no': gvtd
            keeps the VF on vfio-pci, so libvirt must not move it back to a host driver.

            """,
        "doctor" => """
            Usage: gvtctl doctor [--sysfs-root DIR] [--proc-root DIR] [--json]

            Checks the host for what GVT-g, SR-IOV and gvtd need, one line per check with the fix for anything
            wrong. Needs neither the daemon nor root. Exit status 1 when a check failed.

            """,
        _ => """
            Usage: gvtctl help [COMMAND]

            """,
    };
}
