using System.Globalization;
using Gvtd.Contract;
using YamlDotNet.RepresentationModel;

namespace Gvtd.DesiredState;

/// <summary>
/// Reads the 'sriov' list of a desired-state file: one item per physical function. Same rules as
/// the vGPU items beside it: every error collected, each at its file:line:column.
/// </summary>
internal static class DesiredFunctionFile
{
    private static readonly string[] Keys = ["pf", "vfs", "driver", "provision", "vgpu-type", "name"];

    /// <summary>Far above any device: SR-IOV GPUs offer 7 to 63 VFs, NICs up to a few hundred.</summary>
    public const int MaxVfs = 4096;

    public static void ParseList(string path, YamlNode value, List<DesiredFunction> into, List<ConfigError> errors)
    {
        if (DesiredStateFile.IsNull(value)) return;
        if (value is not YamlSequenceNode list)
        {
            errors.Add(new(DesiredStateFile.At(path, value.Start), "'sriov' must be a list of physical functions (each item starting with '- pf:')"));
            return;
        }
        if (list.Children.Count > DesiredStateFile.MaxVGpus)
        {
            errors.Add(new(DesiredStateFile.At(path, value.Start), $"'sriov' lists more than {DesiredStateFile.MaxVGpus} items"));
            return;
        }
        foreach (var item in list)
        {
            if (errors.Count >= DesiredStateFile.MaxErrors) break;
            Parse(path, item, into, errors);
        }
    }

    private static void Parse(string path, YamlNode node, List<DesiredFunction> into, List<ConfigError> errors)
    {
        if (node is not YamlMappingNode map)
        {
            errors.Add(new(DesiredStateFile.At(path, node.Start), "each 'sriov' item must be a mapping with pf and vfs"));
            return;
        }
        var before = errors.Count;
        string? address = null, driver = null, vgpuType = null, name = null;
        int? vfs = null;
        var provision = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in DesiredStateFile.Entries(path, map, Keys, errors))
        {
            var where = DesiredStateFile.At(path, value.Start);
            if (key.Value == "provision")
            {
                ParseProvision(path, value, provision, errors);
                continue;
            }
            var text = DesiredStateFile.Scalar(path, key.Value!, value, errors);
            if (text is null) continue;
            switch (key.Value)
            {
                case "pf":
                    if (!text.Contains(':'))
                        errors.Add(new(where, $"pf: {UserText.Quote(text)} is not a PCI address (expected DDDD:BB:DD.F such as 0000:00:02.0)"));
                    else if (Identifiers.TryNormaliseParent(text, out var a, out var error)) address = a;
                    else errors.Add(new(where, "pf: " + error));
                    break;
                case "vfs":
                    if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= MaxVfs) vfs = n;
                    else errors.Add(new(where, $"vfs: {UserText.Quote(text)} is not a number of virtual functions (0 to {MaxVfs}; the device's sriov_totalvfs says how many it offers)"));
                    break;
                case "driver":
                    driver = text.Trim();
                    if (Identifiers.CheckPathComponent(driver, "driver") is { } driverError) errors.Add(new(where, driverError));
                    break;
                case "vgpu-type":
                    vgpuType = text.Trim();
                    if (Identifiers.CheckName(vgpuType) is { } typeError) errors.Add(new(where, "vgpu-type: " + typeError));
                    break;
                case "name":
                    name = text;
                    if (Identifiers.CheckName(text) is { } nameError) errors.Add(new(where, nameError));
                    break;
            }
        }
        foreach (var (required, seen) in new[] { ("pf", address is not null), ("vfs", vfs is not null) })
        {
            if (!seen && !map.Children.Keys.OfType<YamlScalarNode>().Any(k => k.Value == required))
                errors.Add(new(DesiredStateFile.At(path, map.Start), $"sriov item is missing '{required}'"));
        }
        if (errors.Count == before)
            into.Add(new DesiredFunction(address!, vfs!.Value, driver ?? DesiredFunction.DefaultDriver, provision, vgpuType, name,
                DesiredStateFile.At(path, map.Start)));
    }

    /// <summary>Attribute names become file names under the driver's per-VF directory: plain words only.</summary>
    private static void ParseProvision(string path, YamlNode node, SortedDictionary<string, string> into, List<ConfigError> errors)
    {
        if (DesiredStateFile.IsNull(node)) return;
        if (node is not YamlMappingNode map)
        {
            errors.Add(new(DesiredStateFile.At(path, node.Start), "provision must be a mapping of the driver's per-VF attributes to values (e.g. exec_quantum_ms: 20)"));
            return;
        }
        foreach (var (key, value) in map.Children)
        {
            if (key is not YamlScalarNode { Value: { Length: > 0 } attribute } || !attribute.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
            {
                errors.Add(new(DesiredStateFile.At(path, key.Start), "provision: attribute names are the driver's file names: lower-case letters, digits and '_'"));
                continue;
            }
            var text = DesiredStateFile.Scalar(path, attribute, value, errors);
            if (text is null) continue;
            if (text.Length > 64 || text.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
                errors.Add(new(DesiredStateFile.At(path, value.Start), $"{attribute}: {UserText.Quote(text)} must be one word of at most 64 characters"));
            else
                into[attribute] = text;
        }
    }
}
