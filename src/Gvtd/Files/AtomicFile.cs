using System.Text;

namespace Gvtd.Files;

/// <summary>
/// Replaces a file so that after a crash or power cut it holds either the old text or the new,
/// never a mix or nothing: write a temporary file beside it, fsync it, rename it over the old one,
/// fsync the directory. A failure leaves the old file as it was and no temporary file behind. The
/// one way gvtd writes its files (the ownership ledger, the D-Bus drop-ins).
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, string text)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(Encoding.UTF8.GetBytes(text));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        Interop.Durable.SyncDirectory(directory);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The write's own error is the one to report; a leftover .tmp is overwritten next time.
        }
    }
}
