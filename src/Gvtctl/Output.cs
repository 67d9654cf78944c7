using System.Text;
using System.Text.Json;

namespace Gvtctl;

/// <summary>Exit codes; gvtctl(1) documents them.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;      // a call failed or was refused, doctor found a failure
    public const int Usage = 2;        // bad command line
    public const int NotRunning = 3;   // no bus, or gvtd not on it
    public const int NotAllActive = 4; // status: something declared is not active, or the config is invalid
}

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

/// <summary>A plain text table: left-aligned columns two spaces apart, shrunk to the terminal's width when there is one.</summary>
internal sealed class Table(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells) => _rows.Add(cells);

    /// <summary>Cells are raw text; <paramref name="paint"/> may colour a cell after it is padded (column index, text).</summary>
    public void Write(Terminal term, Func<int, string, string>? paint = null)
    {
        int n = headers.Length;
        var widths = new int[n];
        foreach (var row in _rows.Prepend(headers))
            for (int i = 0; i < n; i++)
                widths[i] = Math.Max(widths[i], row[i].Length);
        if (term.Width is int max)
        {
            // Shrink the widest column, one character at a time, until the line fits (never below 8).
            while (widths.Sum() + 2 * (n - 1) > max)
            {
                int widest = Array.IndexOf(widths, widths.Max());
                if (widths[widest] <= 8) break;
                widths[widest]--;
            }
        }
        var line = new StringBuilder();
        foreach (var (row, isHeader) in _rows.Select(r => (r, false)).Prepend((headers, true)))
        {
            line.Clear();
            for (int i = 0; i < n; i++)
            {
                var cell = row[i].Length > widths[i] ? row[i][..(widths[i] - 1)] + "…" : row[i];
                var padded = i == n - 1 ? cell : cell.PadRight(widths[i]);
                if (isHeader) padded = term.Bold(padded);
                else if (paint is not null)
                {
                    var painted = paint(i, cell);
                    padded = painted + new string(' ', padded.Length - cell.Length);
                }
                line.Append(padded);
                if (i < n - 1) line.Append("  ");
            }
            term.Out.WriteLine(line.ToString().TrimEnd());
        }
    }
}

/// <summary>JSON output through Utf8JsonWriter (no reflection: gvtctl publishes with NativeAOT).</summary>
internal static class Json
{
    public static void Write(TextWriter output, Action<Utf8JsonWriter> body)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            body(w);
        output.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    public static void StringOrNull(this Utf8JsonWriter w, string name, string? value)
    {
        if (string.IsNullOrEmpty(value)) w.WriteNull(name);
        else w.WriteString(name, value);
    }
}
