using System.Text;

namespace Gvtd.Interop;

/// <summary>NUL-terminated UTF-8 conversions for the handful of call sites that pass raw char* to sd-bus.</summary>
internal static unsafe class Utf8Z
{
    /// <summary>Managed NUL-terminated copy, for short-lived pinning with <c>fixed</c>.</summary>
    internal static byte[] Bytes(string s)
    {
        if (s.Contains('\0'))
            throw new ArgumentException("D-Bus strings cannot contain NUL characters.", nameof(s));
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }

    /// <summary>Copy of a C string we do not own (may be NULL).</summary>
    internal static string? Read(nint p) => p == 0 ? null : new string((sbyte*)p, 0, Strlen((byte*)p), Encoding.UTF8);

    internal static string? Read(byte* p) => Read((nint)p);

    private static int Strlen(byte* p)
    {
        int n = 0;
        while (p[n] != 0) n++;
        return n;
    }
}
