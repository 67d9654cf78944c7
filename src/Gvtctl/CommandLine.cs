
namespace Gvtctl;

/// <summary>The parsed command line: one command, its operands, its options and the global ones.</summary>
internal sealed class CommandLine
{
    public string? Command { get; private set; }
    public List<string> Operands { get; } = [];
    public bool Json { get; private set; }
    public bool Verbose { get; private set; }
    public bool Help { get; private set; }
    public bool Version { get; private set; }
    public BusKind Bus { get; private set; } = BusKind.System;
    public string? Parent { get; private set; }
    public string? Name { get; private set; }
    public string? Uuid { get; private set; }
    public bool Runtime { get; private set; }
    public string? SysfsRoot { get; private set; }
    public string? ProcRoot { get; private set; }

    public static readonly string[] Commands =
        ["status", "list", "types", "plan", "add", "remove", "reconcile", "reload", "qemu-args", "libvirt-xml", "doctor", "help"];

    /// <summary>Which options each command takes besides the global ones.</summary>
    private static readonly Dictionary<string, string[]> CommandOptions = new()
    {
        ["add"] = ["--parent", "--name", "--uuid", "--runtime"],
        ["doctor"] = ["--sysfs-root", "--proc-root"],
    };

    private static readonly string[] ValueOptions = ["--bus", "--parent", "--name", "--uuid", "--sysfs-root", "--proc-root"];

    public static CommandLine Parse(string[] args)
    {
        var cl = new CommandLine();
        var seen = new List<string>();
        bool operandsOnly = false;
        for (int i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (operandsOnly || arg == "-" || !arg.StartsWith('-'))
            {
                if (cl.Command is null) cl.Command = arg;
                else cl.Operands.Add(arg);
                continue;
            }
            if (arg == "--") { operandsOnly = true; continue; }
            string name = arg, value = "";
            int eq = arg.IndexOf('=');
            if (eq > 0) { name = arg[..eq]; value = arg[(eq + 1)..]; }
            if (ValueOptions.Contains(name))
            {
                if (eq < 0)
                {
                    if (i + 1 >= args.Length) throw Usage($"{name} needs a value");
                    value = args[++i];
                }
            }
            else if (eq > 0)
            {
                throw Usage($"{name} takes no value");
            }
            seen.Add(name);
            switch (name)
            {
                case "--json": cl.Json = true; break;
                case "--verbose" or "-v": cl.Verbose = true; break;
                case "--help" or "-h": cl.Help = true; break;
                case "--version": cl.Version = true; break;
                case "--bus":
                    cl.Bus = value switch
                    {
                        "system" => BusKind.System,
                        "user" => BusKind.User,
                        _ => throw Usage($"--bus must be system or user, not '{value}'"),
                    };
                    break;
                case "--parent": cl.Parent = value; break;
                case "--name": cl.Name = value; break;
                case "--uuid": cl.Uuid = value; break;
                case "--runtime": cl.Runtime = true; break;
                case "--sysfs-root": cl.SysfsRoot = value; break;
                case "--proc-root": cl.ProcRoot = value; break;
                default: throw Usage($"unknown option {name}");
            }
        }
        if (cl.Command is not null && !Commands.Contains(cl.Command))
            throw Usage($"unknown command '{cl.Command}' (commands: {string.Join(", ", Commands)})");
        foreach (var option in seen.Distinct())
        {
            bool global = option is "--json" or "--verbose" or "-v" or "--help" or "-h" or "--version" or "--bus";
            if (!global && (cl.Command is null || !CommandOptions.GetValueOrDefault(cl.Command, []).Contains(option)))
                throw Usage(cl.Command is null ? $"{option} needs a command" : $"{cl.Command} takes no {option}");
        }
        return cl;
    }

    /// <summary>Demands exactly <paramref name="count"/> operands, named for the message.</summary>
    public void Expect(params string[] names)
    {
        if (Operands.Count > names.Length)
            throw Usage($"{Command}: unexpected '{Operands[names.Length]}'");
        var missing = names.Skip(Operands.Count).Where(n => !n.StartsWith('[')).ToList();
        if (missing.Count > 0)
            throw Usage($"{Command}: missing {string.Join(" and ", missing)}");
    }

    public static CliException Usage(string message) =>
        new(ExitCodes.Usage, message + " (gvtctl --help)");
}
