using Gvtd.Ownership;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.Ownership;

public sealed class OwnershipLedgerTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly List<string> _warnings = [];

    public void Dispose() => _dir.Dispose();

    private OwnershipLedger Load() => OwnershipLedger.Load(_dir.Combine("state"), _warnings.Add);

    [Fact]
    public void Load_MissingFile_IsEmpty()
    {
        var ledger = Load();

        Assert.Empty(ledger.Owned);
        Assert.Empty(_warnings);
        Assert.False(Directory.Exists(_dir.Combine("state")));
    }

    [Fact]
    public void Update_ThenLoad_RoundTrips()
    {
        var ledger = Load();

        Assert.True(ledger.Update([U1, U2, U3], [U2]));

        Assert.Equal([U1, U3], Load().Owned.Order());
        Assert.Empty(_warnings);
    }

    [Fact]
    public void Update_NothingChanged_ReturnsFalse()
    {
        var ledger = Load();
        ledger.Update([U1], []);

        Assert.False(ledger.Update([U1], [U2]));
    }

    [Fact]
    public void Load_BadLines_AreSkippedWithAWarning()
    {
        var path = _dir.Write("state/owned", $"# comment\n{U1}\nnot-a-uuid\n\n  {U2.ToUpperInvariant()}  \n{U3}x\n");

        var ledger = Load();

        Assert.Equal([U1, U2], ledger.Owned.Order());
        Assert.Equal(2, _warnings.Count);
        Assert.Contains($"{path}:3:", _warnings[0]);
        Assert.Contains("not-a-uuid", _warnings[0]);
        Assert.Contains($"{path}:6:", _warnings[1]);
    }

    [Fact]
    public void Intend_IsOnDiskBeforeTheCreate_AndARestartSettlesItByWhatExists()
    {
        var ledger = Load();
        ledger.Intend([U1, U2]);

        // gvtd dies here; the next run finds both intents and settles them against sysfs.
        var restarted = Load();
        Assert.Equal([U1, U2], restarted.Creating.Order());
        restarted.Settle(exists: u => u == U1, pending: _ => false);

        Assert.Equal([U1], restarted.Owned);
        Assert.Empty(restarted.Creating);
        Assert.Equal([U1], Load().Owned);
        Assert.Empty(Load().Creating);
        Assert.Empty(_warnings);
    }

    [Fact]
    public void Settle_LeavesIntentsWhoseWriteHasNotReturned()
    {
        var ledger = Load();
        ledger.Intend([U1]);

        ledger.Settle(exists: _ => false, pending: u => u == U1);

        Assert.Equal([U1], ledger.Creating);
    }

    [Fact]
    public void UpdateAndAbandon_ConfirmOrDropIntents()
    {
        var ledger = Load();
        ledger.Intend([U1, U2]);

        ledger.Update([U1], []);
        ledger.Abandon([U2]);

        Assert.Equal([U1], Load().Owned);
        Assert.Empty(Load().Creating);
    }

    [Fact]
    public void ADiskThatRefusesTheLedger_KeepsItInMemoryAndWritesItOnceItCan()
    {
        // The state directory cannot be made (a file is in its place): every write fails, as on a full disk.
        var state = _dir.Write("state", "not a directory");
        var ledger = Load();

        ledger.Update([U1], []);
        ledger.Intend([U2]);
        ledger.Update([U2], []);

        Assert.Equal([U1, U2], ledger.Owned.Order());
        Assert.Contains("cannot write", ledger.SaveError);
        File.Delete(state);
        ledger.RetrySave();

        Assert.Equal("", ledger.SaveError);
        Assert.Equal([U1, U2], Load().Owned.Order());
    }

    [Fact]
    public void Update_LeavesNoTemporaryFileBehind()
    {
        var ledger = Load();

        ledger.Update([U1], []);
        ledger.Update([U2], [U1]);

        Assert.Equal(["owned"], Directory.GetFileSystemEntries(_dir.Combine("state")).Select(Path.GetFileName));
        Assert.Equal(ledger.FilePath, _dir.Combine("state", "owned"));
    }
}
