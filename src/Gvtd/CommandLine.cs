namespace Gvtd;

/// <summary>
/// Parses gvtd's few options by hand: one-line errors, no reflection, nothing to trim for NativeAOT.
/// </summary>
public static class CommandLine
{
    public sealed record Result(GvtdOptions? Options, string? Error, bool ShowHelp, bool ShowVersion, bool CheckConfig = false);

    public const string Help = """
        Usage: gvtd [OPTIONS]

        Keeps the mediated devices (mdev vGPUs) on this host equal to a declarative YAML file.

        Options:
          --config FILE       desired-state file (default /etc/gvtd/vgpus.yaml); drop-ins are
                              read from vgpus.d/*.yaml beside it and from RUNTIME-DIR/vgpus.d/
          --check-config [FILE]
                              check FILE (default: the --config file) and its drop-ins as the
                              daemon would load them, print every error or how many vGPUs it
                              declares, exit 0 or 1; changes nothing, needs no root or bus.
                              With --sysfs-root, also warn about types and parents not there
          --state-dir DIR     where the ledger of devices gvtd created lives (default /var/lib/gvtd)
          --runtime-dir DIR   runtime directory (default /run/gvtd)
          --sysfs-root DIR    sysfs mount point (default /sys)
          --proc-root DIR     procfs mount point, read to see which devices VMs hold (default
                              /proc; with --simulate an empty directory, as nothing can hold
                              a simulated device)
          --dev-root DIR      devtmpfs mount point, where /dev/vfio is watched (default /dev)
          --bus BUS           D-Bus to serve on: system, user or none (default system;
                              with --simulate: user, or none if no user bus is reachable)
          --simulate[=GPU]    run against a simulated GPU at 0000:00:02.0 instead of the kernel:
                              gvtg (the default; a Kaby Lake iGPU with GVT-g) or gen12 (a
                              Tiger Lake iGPU sharing itself by SR-IOV, 7 VFs); state and
                              runtime directories default to per-user places
          --help              show this help and exit
          --version           show the version and exit

        Signals: SIGHUP re-reads the desired state; SIGTERM stops without removing any vGPU.
        """;

    public static Result Parse(string[] args)
    {
        var options = new GvtdOptions();
        string? state = null, runtime = null;
        var check = false;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string? inline = null;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.IndexOf('=') is var eq and > 0)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            string Value()
            {
                if (inline is not null) return inline;
                if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    throw new ArgumentException($"option '{arg}' needs a value");
                return args[++i];
            }

            try
            {
                switch (arg)
                {
                    case "--help" or "-h": return new(null, null, ShowHelp: true, ShowVersion: false);
                    case "--version": return new(null, null, ShowHelp: false, ShowVersion: true);
                    case "--config": options = options with { ConfigPath = Value() }; break;
                    case "--check-config":
                        check = true;
                        // The file is optional: the next word, unless it is an option.
                        if (inline is not null) options = options with { ConfigPath = inline };
                        else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) options = options with { ConfigPath = args[++i] };
                        break;
                    case "--state-dir": state = Value(); break;
                    case "--runtime-dir": runtime = Value(); break;
                    case "--sysfs-root": options = options with { SysfsRoot = Value() }; break;
                    case "--proc-root": options = options with { ProcRoot = Value() }; break;
                    case "--dev-root": options = options with { DevRoot = Value() }; break;
                    case "--simulate":
                        // The GPU is optional, and only as --simulate=GPU: a following word is not it.
                        options = options with
                        {
                            Simulate = true,
                            SimulatedGpu = inline switch
                            {
                                null or "gvtg" => Simulation.SimulatedGpu.Gvtg,
                                "gen12" => Simulation.SimulatedGpu.Gen12,
                                _ => throw new ArgumentException($"--simulate={inline}: the simulated GPU is gvtg or gen12"),
                            },
                        };
                        break;
                    case "--bus":
                        var bus = Value();
                        options = options with
                        {
                            Bus = bus switch
                            {
                                "system" => BusChoice.System,
                                "user" => BusChoice.User,
                                "none" => BusChoice.None,
                                _ => throw new ArgumentException($"--bus takes system, user or none, not '{bus}'"),
                            },
                        };
                        break;
                    default:
                        return new(null, $"unknown option '{args[i]}' (see gvtd --help)", false, false);
                }
            }
            catch (ArgumentException e)
            {
                return new(null, e.Message, false, false);
            }
        }

        if (options.Simulate)
        {
            // A newcomer runs --simulate as themselves: keep its state out of /var/lib and /run.
            state ??= Path.Combine(XdgDir("XDG_STATE_HOME") ?? Path.Combine(Home(), ".local", "state"), "gvtd");
            runtime ??= XdgDir("XDG_RUNTIME_DIR") is { } xdgRuntime
                ? Path.Combine(xdgRuntime, "gvtd")
                : Path.Combine(Path.GetTempPath(), "gvtd-" + Environment.UserName);
        }
        return new(options with
        {
            StateDir = Path.GetFullPath(state ?? options.StateDir),
            RuntimeDir = Path.GetFullPath(runtime ?? options.RuntimeDir),
            ConfigPath = Path.GetFullPath(options.ConfigPath),
        }, null, false, false, check);
    }

    private static string? XdgDir(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } dir && Path.IsPathRooted(dir) ? dir : null;

    private static string Home() => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } h ? h : Path.GetTempPath();
}
