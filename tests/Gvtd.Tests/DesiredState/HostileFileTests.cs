using System.Text;
using Gvtd.DesiredState;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.DesiredState;

/// <summary>
/// Files written to hurt, or by accident: loading any of them ends quickly with the loader's own
/// errors, never a hang, an exception or memory that stays taken.
/// </summary>
public sealed class HostileFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>"Billion laughs": nine levels of ten aliases each stand for 10^9 strings.</summary>
    private static string AliasBomb()
    {
        var yaml = new StringBuilder("l0: &l0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
        for (var i = 1; i <= 8; i++)
            yaml.Append($"l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 10))}]\n");
        return yaml.ToString();
    }

    [Theory]
    [InlineData("? *l8\n: x\nvgpus: []\n")]            // as a mapping key: used to run without end
    [InlineData("vgpus: *l8\n")]                       // as the list of vGPUs
    [InlineData("vgpus:\n  - ? *l8\n    : x\n")]       // as a key inside a vGPU
    [InlineData("vgpus:\n  - uuid: *l8\n")]            // as a value
    public void AliasBomb_AnywhereIsRefusedQuickly(string tail)
    {
        // What proves a bomb went off is the work it made: the bytes one parse allocates, on its own
        // thread (no other test's allocations count, and load cannot change it). The clock only
        // catches a parse that never ends.
        var (errors, allocated) = OnOwnThread(() => Errors(_dir, AliasBomb() + tail));

        Assert.True(allocated < 50_000_000, $"one parse allocated {allocated:N0} bytes: the aliases were expanded");
        Assert.NotEmpty(errors);
        Assert.True(errors.Count <= DesiredStateFile.MaxErrors + 10, $"{errors.Count} errors");
        Assert.All(errors, e => Assert.True(e.Message.Length < 300, "a message of " + e.Message.Length + " characters"));
    }

    [Theory]
    [InlineData("vgpus:\n  - : uuid: 11111111-0000-4000-8000-00000000000a\n    type: mtty-1\n")]   // found by the fuzz test
    [InlineData("vgpus: [\n")]
    public void InputThatStopsYamlDotNet_IsASyntaxError(string text)
    {
        var error = Assert.Single(Errors(_dir, text));

        Assert.StartsWith("YAML syntax error", error.Message);
    }

    [Fact]
    public void AHugeFile_IsRefusedWithoutBeingReadWhole()
    {
        var path = _dir.Write(MainFile, "vgpus:\n  - name: \"" + new string('x', 20 * 1024 * 1024) + "\"\n");

        // Counted on the loading thread only: the tests running beside this one allocate too.
        var (errors, allocated) = OnOwnThread(() => Assert.Throws<InvalidConfigException>(() => Loader(_dir).Load()).Errors);

        var error = Assert.Single(errors);
        Assert.Equal(path, error.Where.File);
        Assert.Contains("larger than", error.Message);
        Assert.True(allocated < 4 * DesiredStateFile.MaxBytes, $"allocated {allocated:N0} bytes reading a file of 20 MiB: read more than the limit");
    }

    /// <summary>
    /// Runs <paramref name="load"/> synchronously on a thread of its own and returns what it gave and
    /// the managed bytes that thread allocated meanwhile; fails (a hang guard, not a speed limit) if
    /// it has not ended within a minute.
    /// </summary>
    private static (T Result, long Allocated) OnOwnThread<T>(Func<T> load)
    {
        var run = Task.Factory.StartNew(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var result = load();
            return (result, GC.GetAllocatedBytesForCurrentThread() - before);
        }, TaskCreationOptions.LongRunning);
        Assert.True(run.Wait(TimeSpan.FromSeconds(60)), "hang guard: the load did not end within 60 s");
        return run.Result;
    }

    [Fact]
    public void ALongScalar_IsShownCutShort()
    {
        var error = Assert.Single(Errors(_dir, $"vgpus:\n  - uuid: {new string('z', 500_000)}\n    type: t\n    parent: mtty\n"));

        Assert.Contains("(500000 characters)", error.Message);
        Assert.True(error.Message.Length < 300);
    }

    [Fact]
    public void ALatin1File_IsRefusedAtTheFirstBadByte()
    {
        var path = _dir.Combine(MainFile);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Encoding.Latin1.GetBytes($"vgpus:\n  - uuid: {U1}\n    type: t\n    parent: mtty\n    name: Büro\n"));

        var error = Assert.Single(Assert.Throws<InvalidConfigException>(() => Loader(_dir).Load()).Errors);

        Assert.Equal(new SourceLocation(path, 5, 12), error.Where); // the 'ü' of Büro
        Assert.Contains("not UTF-8", error.Message);
    }

    [Fact]
    public void ControlCharacters_AreEscapedInMessages()
    {
        var error = Assert.Single(Errors(_dir, "vgpus:\n  - uuid: \"\\e[31mred\\u0007\"\n    type: t\n    parent: mtty\n"));

        Assert.DoesNotContain('\u001b', error.Message);
        Assert.Contains("\\x1b[31mred\\x07", error.Message);
    }
}
