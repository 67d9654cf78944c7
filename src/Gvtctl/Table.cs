using System.Text;
using System.Text.Json;

namespace Gvtctl;

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
