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

    /// <summary>Adds a declaration to the managed file, given the valid state just read from disk (no second parse).</summary>
    public void Add(DesiredStateSnapshot now, string uuid, string type, string parent, string? name, bool runtime)
    {
        var file = runtime ? RuntimeFile : PersistentFile;
        Edit(now, file, entries => entries.Add(new DesiredVGpu(uuid, type, parent, name, new SourceLocation(file, 0, 0))));
    }

    /// <summary>Drops the declaration of uuid from the managed file that holds it.</summary>
    public void Remove(DesiredStateSnapshot now, string uuid, string file) => Edit(now, file, entries => entries.RemoveAll(v => v.Uuid == uuid));

    private static void Edit(DesiredStateSnapshot now, string file, Action<List<DesiredVGpu>> edit)
    {
        var existing = now.VGpus.Where(v => v.Source.File == file).ToList();
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
