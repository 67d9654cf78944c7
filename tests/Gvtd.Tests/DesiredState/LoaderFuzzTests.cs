using System.Diagnostics;
using System.Text;
using CsCheck;
using Gvtd.DesiredState;
using Gvtd.Reconcile;
using Gvtd.Tests.Bus;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.DesiredState;

/// <summary>
/// Fuzzing the loader: documents made by mutating a seed corpus (DesiredState/corpus/: real files,
/// anchors, the alias bomb, broken ones) with the characters and fragments YAML gives meaning to.
/// The only outcomes allowed are a valid state or the loader's own errors, each allocating under
/// 100 MB (a hang guard catches a parse that never ends); a valid one is acted on safely by a real
/// pass, and an invalid one changes nothing on the machine.
/// </summary>
public sealed class LoaderFuzzTests
{
    private static readonly string[] Corpus = Directory.GetFiles(Path.Combine(RepoRoot.Path, "tests", "Gvtd.Tests", "DesiredState", "corpus"), "*.yaml")
        .Order(StringComparer.Ordinal).Select(File.ReadAllText).ToArray();

    private static readonly string[] Fragments =
    [
        "&a ", "*a", "*d", "? ", ": ", "- ", "[", "]", "{", "}", ",", "\t", "\0", "\r", "!!str ", "!!binary ", "!<tag:x> ",
        "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "---\n", "...\n", "\"", "'", "#", "\\", "\\u", "\n  ", "\n- ", "é", "\uFFFF",
        "vgpus:", "vgpus: []\n", "settings:", "uuid: ", "type: ", "parent: ", "name: ", "interval: ", "prune: all", "<<: *a", "~", "null",
        new string('x', 300), new string(' ', 64), "&b [*a, *a, *a, *a, *a, *a, *a, *a]", "? [*a, *b]\n: x\n", "00:02.0", "../..",
        "4b20d080-1b54-4048-85b3-a6a62d165c01",
    ];

    /// <summary>
    /// (what, where, which): insert a fragment, delete a stretch, repeat a line, cut the file short,
    /// or put a byte that is not UTF-8 into the encoded file.
    /// </summary>
    private static readonly Gen<byte[]> Documents = Gen.Select(
        Gen.Int[0, Corpus.Length - 1],
        Gen.Select(Gen.Int[0, 4], Gen.Int[0, 1 << 20], Gen.Int[0, Fragments.Length - 1]).Array[1, 16],
        (seed, edits) =>
        {
            var bytes = Encoding.UTF8.GetBytes(Mutate(Corpus[seed], edits)).ToList();
            foreach (var (_, where, which) in edits.Where(e => e.Item1 == 4))
                bytes.Insert(where % (bytes.Count + 1), (byte)(0x80 + which % 0x80));
            return bytes.ToArray();
        });

    private static string Mutate(string text, (int What, int Where, int Which)[] edits)
    {
        var doc = new StringBuilder(text);
        foreach (var (what, where, which) in edits)
        {
            var at = where % (doc.Length + 1);
            switch (what)
            {
                case 0: doc.Insert(at, Fragments[which]); break;
                case 1: doc.Remove(at, Math.Min(which + 1, doc.Length - at)); break;
                case 2:
                    var start = doc.ToString().LastIndexOf('\n', Math.Max(0, at - 1)) + 1;
                    var end = doc.ToString().IndexOf('\n', at);
                    if (end > start) doc.Insert(start, doc.ToString(start, end - start + 1));
                    break;
                case 3: doc.Length = at; break;
            }
        }
        return doc.ToString();
    }

    [Fact]
    public void AnyDocument_GivesAStateOrTheLoadersOwnErrors_Quickly() => Documents.Sample(bytes =>
    {
        using var dir = new TempDir();
        Write(dir, bytes);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        try
        {
            var state = Loader(dir).Load();
            Assert.All(state.VGpus, v => Assert.Equal(v.Uuid, Gvtd.Contract.Identifiers.NormaliseUuid(v.Uuid)));
        }
        catch (InvalidConfigException e)
        {
            Assert.NotEmpty(e.Errors);
            Assert.All(e.Errors, error => Assert.True(error.ToString().Length < 1000, "an error message of " + error.ToString().Length + " characters"));
        }
        // The cost that proves a blow-up (an alias bomb, a quadratic merge) is what a parse allocates:
        // it does not depend on how loaded the machine is. The clock only catches a parse that hangs.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 100_000_000, "allocated over 100 MB");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"hang guard: one parse took {watch.Elapsed}");
    }, time: 40, threads: 1, print: Printable); // one thread: the other tests running beside it need the pool

    [Fact]
    public async Task AnInvalidDocument_AfterAValidState_ChangesNothingOnTheMachine()
    {
        using var dir = new TempDir();
        var host = new SimulatedHost(dir);
        var validText = "vgpus:\n" + VGpu(U1, "i915-GVTg_V5_4", "00:02.0");
        host.Configure(validText);
        await host.PassAsync();
        var before = host.TreeSnapshot();
        var invalid = 0;
        var valid = 0;

        foreach (var bytes in Documents.Array[200].Single())
        {
            Write(host.Dir, bytes);
            if (host.Store.Reload())
            {
                // A valid mutation is a state like any other: a real pass over the simulated kernel
                // acts on it without throwing, creates only what it declares, leaves on the machine
                // only what it declares or gvtd had before, and a second pass finds nothing to do.
                var declared = host.Store.Current!.VGpus.Select(v => v.Uuid).ToHashSet(StringComparer.Ordinal);
                var from = host.Writer.Writes.Count;
                await host.PassAsync(explicitRequest: true);
                var created = host.Writer.Writes.Skip(from).Where(w => w.Path.EndsWith("/create")).Select(w => w.Value);
                Assert.All(created, uuid => Assert.True(declared.Contains(uuid), $"created {uuid}, not declared by {Printable(bytes)}"));
                Assert.All(host.Devices, uuid => Assert.True(declared.Contains(uuid) || uuid == U1, $"{uuid} on the machine, not declared by {Printable(bytes)}"));
                var again = await host.PassAsync(explicitRequest: true);
                Assert.True((0, 0) == (again.Created, again.Removed), $"a second pass created {again.Created} and removed {again.Removed}: {Printable(bytes)}");
                valid++;

                // Put the machine back for the next one: the same device, though it may have been
                // made again (in a new IOMMU group), so the invalid ones compare with it as it is now.
                host.Configure(validText);
                await host.PassAsync(explicitRequest: true);
                Assert.Equal([U1], host.Devices);
                before = host.TreeSnapshot();
                continue;
            }
            invalid++;
            var writes = host.Writer.Writes.Count;
            var result = await host.PassAsync(explicitRequest: true);

            Assert.True((0, 0) == (result.Created, result.Removed), Printable(bytes));
            Assert.Equal(writes, host.Writer.Writes.Count);
            Assert.Equal(before, host.TreeSnapshot());
        }
        Assert.True(invalid > 100, $"only {invalid} of 200 documents were invalid");
        Assert.True(valid > 0, "no document of 200 was valid: the valid branch ran no pass");
    }

    private static void Write(TempDir dir, byte[] bytes)
    {
        var path = dir.Combine(MainFile);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    private static string Printable(byte[] bytes) => Gvtd.Contract.UserText.Quote(Encoding.UTF8.GetString(bytes.Length > 400 ? bytes[..400] : bytes));
}
