using System.Text;

namespace Gvtd.DesiredState;

/// <summary>
/// The drop-in files gvtd itself writes when asked over D-Bus: <c>vgpus.d/dbus.yaml</c> beside the
/// main file (persistent) and <c>RUNTIME/vgpus.d/dbus.yaml</c> (gone at reboot). The user's own
/// files are never rewritten. Each file is replaced atomically (Files.AtomicFile); callers
/// edit inside DesiredStateStore.Change, which runs one change at a time with its check.
/// </summary>
public sealed class ManagedDeclarations(DesiredStateLoader loader)
{
    private const string FileName = "dbus.yaml";

    public string PersistentFile => Path.Combine(loader.DropInDirs[0], FileName);
    public string RuntimeFile => Path.Combine(loader.DropInDirs[1], FileName);

    public bool IsManaged(string file) => file == PersistentFile || file == RuntimeFile;

    public void Add(string uuid, string type, string parent, string? name, bool runtime)
    {
        var file = runtime ? RuntimeFile : PersistentFile;
        Edit(file, entries => entries.Add(new DesiredVGpu(uuid, type, parent, name, new SourceLocation(file, 0, 0))));
    }

    /// <summary>Drops the declaration of uuid from the managed file that holds it.</summary>
    public void Remove(string uuid, string file) => Edit(file, entries => entries.RemoveAll(v => v.Uuid == uuid));

    private static void Edit(string file, Action<List<DesiredVGpu>> edit)
    {
        var errors = new List<ConfigError>();
        var existing = File.Exists(file) && DesiredStateFile.Read(file, errors) is { } text
            ? DesiredStateFile.Parse(file, text, allowSettings: false, errors).VGpus.ToList()
            : [];
        if (errors.Count > 0) throw new InvalidConfigException(errors);
        edit(existing);
        Files.AtomicFile.Write(file, Render(existing));
    }

    private static string Render(IEnumerable<DesiredVGpu> vgpus)
    {
        var yaml = new StringBuilder()
            .AppendLine("# Managed by gvtd: written by AddVGpu/RemoveVGpu over D-Bus (gvtctl add/remove).")
            .AppendLine("# Hand edits are kept, but a declaration of yours belongs in the main file.")
            .AppendLine("vgpus:");
        foreach (var v in vgpus)
        {
            yaml.Append("  - uuid: ").AppendLine(v.Uuid)
                .Append("    type: ").AppendLine(Quote(v.Type))
                .Append("    parent: ").AppendLine(Quote(v.Parent));
            if (!string.IsNullOrEmpty(v.Name)) yaml.Append("    name: ").AppendLine(Quote(v.Name));
        }
        return yaml.ToString();
    }

    // Double-quoted YAML scalars: only backslash and quote need escaping (control characters are rejected earlier).
    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
