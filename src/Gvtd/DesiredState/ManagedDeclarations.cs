using System.Text;

namespace Gvtd.DesiredState;

/// <summary>
/// The drop-in files gvtd itself writes when asked over D-Bus: <c>vgpus.d/dbus.yaml</c> beside the
/// main file (persistent) and <c>RUNTIME/vgpus.d/dbus.yaml</c> (gone at reboot). The user's own
/// files are never rewritten. Edits are serialised and each file is replaced atomically.
/// </summary>
public sealed class ManagedDeclarations(DesiredStateLoader loader)
{
    private const string FileName = "dbus.yaml";
    private readonly SemaphoreSlim _lock = new(1, 1);

    public string PersistentFile => Path.Combine(loader.DropInDirs[0], FileName);
    public string RuntimeFile => Path.Combine(loader.DropInDirs[1], FileName);

    public bool IsManaged(string file) => file == PersistentFile || file == RuntimeFile;

    public async Task AddAsync(string uuid, string type, string parent, string? name, bool runtime)
    {
        var file = runtime ? RuntimeFile : PersistentFile;
        await EditAsync(file, entries => entries.Add(new DesiredVGpu(uuid, type, parent, name, new SourceLocation(file, 0, 0))));
    }

    /// <summary>Drops the declaration of uuid from the managed file that holds it.</summary>
    public Task RemoveAsync(string uuid, string file) =>
        EditAsync(file, entries => entries.RemoveAll(v => v.Uuid == uuid));

    private async Task EditAsync(string file, Action<List<DesiredVGpu>> edit)
    {
        await _lock.WaitAsync();
        try
        {
            var errors = new List<ConfigError>();
            var existing = File.Exists(file)
                ? DesiredStateFile.Parse(file, await File.ReadAllTextAsync(file), allowSettings: false, errors).VGpus.ToList()
                : [];
            if (errors.Count > 0) throw new InvalidConfigException(errors);
            edit(existing);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            var temp = file + ".tmp";
            await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(Render(existing)));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, file, overwrite: true);
        }
        finally
        {
            _lock.Release();
        }
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
