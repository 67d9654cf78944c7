namespace Gvtd.Interop;

/// <summary>Property flags; map 1:1 to SD_BUS_VTABLE_PROPERTY_CONST / SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE.</summary>
[Flags]
public enum PropertyFlags
{
    None = 0,
    /// <summary>Never changes for the object's lifetime (annotated EmitsChangedSignal=const).</summary>
    Const = 1,
    /// <summary>Changes are announced with PropertiesChanged carrying the new value (required for EmitPropertiesChanged).</summary>
    EmitsChange = 2,
}

/// <summary>
/// Managed description of one D-Bus interface. It becomes an sd_bus_vtable when registered with
/// <see cref="BusConnection.AddObject"/> / <see cref="BusConnection.AddFallback"/>; after the first registration it is
/// frozen (sd-bus keeps the vtable it was given, so later edits could not take effect anyway).
/// Every method is registered SD_BUS_VTABLE_UNPRIVILEGED: gvtd authorises callers itself (polkit), and without the
/// flag sd-bus rejects callers whose uid differs from ours before our handler runs.
/// </summary>
public sealed class BusInterface
{
    internal sealed record MethodEntry(string Member, string InSignature, string OutSignature, string[] InNames, string[] OutNames, Action<MethodCall> Handler);
    internal sealed record PropertyEntry(string Member, string Signature, Action<string, MessageWriter> Get, PropertyFlags Flags);
    internal sealed record SignalEntry(string Member, string Signature, string[] Names);

    private readonly List<MethodEntry> _methods = [];
    private readonly List<PropertyEntry> _properties = [];
    private readonly List<SignalEntry> _signals = [];
    private readonly Dictionary<string, MethodEntry> _methodsByName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PropertyEntry> _propertiesByName = new(StringComparer.Ordinal);
    private readonly HashSet<string> _members = new(StringComparer.Ordinal);
    private volatile bool _frozen;

    public BusInterface(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
    }

    public string Name { get; }

    internal IReadOnlyList<MethodEntry> Methods => _methods;
    internal IReadOnlyList<PropertyEntry> Properties => _properties;
    internal IReadOnlyList<SignalEntry> Signals => _signals;

    /// <summary>
    /// Add a method. <paramref name="inNames"/>/<paramref name="outNames"/> name each complete type of the
    /// signatures (for introspection); pass empty arrays to get arg0, arg1, ...
    /// The handler runs on the bus thread and must either reply before returning or keep the <see cref="MethodCall"/>
    /// and reply later. Throwing <see cref="BusException"/> replies that error; any other exception replies
    /// org.freedesktop.DBus.Error.Failed and is reported to <see cref="BusConnection.UnhandledException"/>.
    /// </summary>
    public BusInterface Method(string member, string inSignature, string outSignature, string[] inNames, string[] outNames, Action<MethodCall> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var entry = new MethodEntry(member, inSignature ?? "", outSignature ?? "",
            ArgNames(inSignature ?? "", inNames, member, "in"), ArgNames(outSignature ?? "", outNames, member, "out"), handler);
        AddMember(member);
        _methods.Add(entry);
        _methodsByName[member] = entry;
        return this;
    }

    /// <summary>Add a read-only property; <paramref name="get"/> receives the object path and writes exactly one value of <paramref name="signature"/>.</summary>
    public BusInterface Property(string member, string signature, Action<string, MessageWriter> get, PropertyFlags flags)
    {
        ArgumentNullException.ThrowIfNull(get);
        ArgumentException.ThrowIfNullOrEmpty(signature);
        if (SignatureParser.CountCompleteTypes(signature) != 1)
            throw new ArgumentException($"Property '{member}' signature '{signature}' must be exactly one complete type.", nameof(signature));
        if (flags.HasFlag(PropertyFlags.Const) && flags.HasFlag(PropertyFlags.EmitsChange))
            throw new ArgumentException($"Property '{member}' cannot be both Const and EmitsChange.", nameof(flags));
        AddMember(member);
        var entry = new PropertyEntry(member, signature, get, flags);
        _properties.Add(entry);
        _propertiesByName[member] = entry;
        return this;
    }

    /// <summary>Declare a signal (introspection only; emit it with <see cref="BusConnection.EmitSignal"/>).</summary>
    public BusInterface Signal(string member, string signature, string[] names)
    {
        AddMember(member);
        _signals.Add(new SignalEntry(member, signature ?? "", ArgNames(signature ?? "", names, member, "signal")));
        return this;
    }

    internal bool TryGetMethod(string member, out MethodEntry entry) => _methodsByName.TryGetValue(member, out entry!);
    internal bool TryGetProperty(string member, out PropertyEntry entry) => _propertiesByName.TryGetValue(member, out entry!);
    internal bool HasProperty(string member) => _propertiesByName.ContainsKey(member);

    internal void Freeze() => _frozen = true;

    private void AddMember(string member)
    {
        ArgumentException.ThrowIfNullOrEmpty(member);
        if (_frozen)
            throw new InvalidOperationException($"Interface {Name} is already registered on a bus; it can no longer be changed.");
        if (!_members.Add(member))
            throw new ArgumentException($"Interface {Name} already has a member named '{member}'.", nameof(member));
    }

    // sd-bus consumes one name per complete type of in-signature, then of out-signature, from a single
    // NUL-separated list; a missing or empty name stops the naming. So names must match the signatures exactly.
    private static string[] ArgNames(string signature, string[]? names, string member, string direction)
    {
        int count = SignatureParser.CountCompleteTypes(signature);
        if (names is null || names.Length == 0)
            return Enumerable.Range(0, count).Select(i => $"arg{i}").ToArray();
        if (names.Length != count)
            throw new ArgumentException($"'{member}' has {count} {direction} argument(s) in '{signature}' but {names.Length} name(s).");
        foreach (var n in names)
            if (string.IsNullOrEmpty(n))
                throw new ArgumentException($"'{member}' has an empty {direction} argument name.");
        return names;
    }
}

/// <summary>Just enough D-Bus signature parsing to count complete types.</summary>
internal static class SignatureParser
{
    internal static int CountCompleteTypes(string signature)
    {
        int i = 0, count = 0;
        while (i < signature.Length)
        {
            i = SkipComplete(signature, i);
            count++;
        }
        return count;
    }

    private static int SkipComplete(string s, int i)
    {
        if (i >= s.Length)
            throw new ArgumentException($"Truncated D-Bus signature '{s}'.");
        char c = s[i];
        switch (c)
        {
            case 'a':
                return SkipComplete(s, i + 1);
            case '(':
            case '{':
                char close = c == '(' ? ')' : '}';
                i++;
                while (i < s.Length && s[i] != close)
                    i = SkipComplete(s, i);
                if (i >= s.Length)
                    throw new ArgumentException($"Unbalanced D-Bus signature '{s}'.");
                return i + 1;
            case 'y' or 'b' or 'n' or 'q' or 'i' or 'u' or 'x' or 't' or 'd' or 'h' or 's' or 'o' or 'g' or 'v':
                return i + 1;
            default:
                throw new ArgumentException($"Invalid D-Bus signature '{s}' (unexpected '{c}').");
        }
    }
}
