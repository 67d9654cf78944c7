using System.Text;
using System.Text.Json;

namespace Gvtctl;

/// <summary>Where output goes and how it may look: colour only on a terminal and never with NO_COLOR.</summary>
internal sealed class Terminal
{
    public TextWriter Out { get; }
    public bool Colour { get; }

    /// <summary>Columns available for tables, or null for no truncation (not a terminal).</summary>
    public int? Width { get; }

    public Terminal(TextWriter output, bool isTty, int? width, bool colour)
    {
        Out = output;
        Width = isTty ? width : null;
        Colour = isTty && colour;
    }

    public static Terminal FromConsole()
    {
        bool tty = !Console.IsOutputRedirected;
        int? width = tty ? Std.TerminalWidth() : null;
        bool colour = string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))
            && Environment.GetEnvironmentVariable("TERM") is not "dumb";
        return new Terminal(Std.Out, tty, width, colour);
    }

    public string Paint(string text, string sgr) => Colour && text.Length > 0 ? $"\u001b[{sgr}m{text}\u001b[0m" : text;

    public string Bold(string text) => Paint(text, "1");

    /// <summary>Green for fine, yellow for on its way, red for needs a person.</summary>
    public string State(string state) => state switch
    {
        "active" or "idle" or "keep" or "ok" => Paint(state, "32"),
        "pending" or "removing" or "starting" or "reconciling" or "create" or "remove" or "recreate" or "warning" or "undeclared" => Paint(state, "33"),
        "failed" or "blocked" or "degraded" or "FAILED" => Paint(state, "31"),
        _ => state,
    };
}
