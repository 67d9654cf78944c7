using System.Text;

namespace Gvtd.Contract;

/// <summary>
/// Text that came from outside (a file, a D-Bus argument, sysfs) shown back in a message: quoted,
/// control characters escaped (a journal line must stay one line, and a corrupt file must not send
/// terminal escapes), and cut to a length a person reads. Bounded whatever the input's size.
/// </summary>
public static class UserText
{
    public const int MaxShown = 80;

    public static string Quote(string text)
    {
        var shown = new StringBuilder(Math.Min(text.Length, MaxShown) + 2).Append('\'');
        foreach (var c in text.Length <= MaxShown ? text : text[..(MaxShown - 3)])
        {
            if (char.IsControl(c)) shown.Append($"\\x{(int)c:x2}");
            else shown.Append(c);
        }
        shown.Append(text.Length <= MaxShown ? "'" : $"...' ({text.Length} characters)");
        return shown.ToString();
    }
}
