using Gvtd.Reconcile;
using Gvtd.Simulation;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Sriov;

/// <summary>
/// Never churn (issue 24): a value the driver keeps in another form (020 kept as 20) or rounds (a
/// quota aligned) must not take the PF through 0 VFs pass after pass. Values compare as the driver
/// keeps them; a reset that would repeat for the same declaration happens at most once, then the PF
/// is blocked naming what the driver keeps.
/// </summary>
public sealed class NeverChurnTests : IDisposable
{
    private const string Pf = SimulatedSriovGpu.PciAddress;
    private readonly TempDir _dir = new();
    private readonly SimulatedHost _host;

    public NeverChurnTests() => _host = new SimulatedHost(_dir, gpu: SimulatedGpu.Gen12);

    public void Dispose() => _dir.Dispose();

    private static string Declare(string provision) => $"""
        vgpus: []
        sriov:
          - pf: "{Pf}"
            vfs: 2
            provision:
              {provision}
        """;

    private List<string> CountWrites => [.. _host.Writer.Writes.Where(w => w.Path.EndsWith("/sriov_numvfs")).Select(w => w.Value)];

    private async Task Passes(int n)
    {
        for (var i = 0; i < n; i++) await _host.PassAsync();
    }

    [Fact]
    public async Task A_number_the_driver_keeps_without_its_leading_zero_is_as_declared()
    {
        Assert.True(_host.Configure(Declare("exec_quantum_ms: 020")));
        await Passes(6);

        Assert.Equal(["2"], CountWrites);
        var status = Assert.Single(_host.Reconciler.Current.Functions);
        Assert.Equal(VGpuState.Active, status.State);
    }

    [Fact]
    public async Task A_quota_the_driver_rounds_resets_the_vfs_at_most_once_then_blocks_naming_what_it_keeps()
    {
        Assert.True(_host.Configure(Declare("ggtt_quota: 100000")));
        await Passes(6);

        Assert.True(CountWrites.Count(v => v == "0") <= 1, $"the VFs went through 0 {CountWrites.Count(v => v == "0")} times: {string.Join(",", CountWrites)}");
        var status = Assert.Single(_host.Reconciler.Current.Functions);
        Assert.Equal(VGpuState.Blocked, status.State);
        Assert.Contains("the driver keeps ggtt_quota 131072 for the declared 100000", status.LastError);

        // Declaring what the driver keeps is as declared: no reset, active.
        var before = CountWrites.Count;
        Assert.True(_host.Configure(Declare("ggtt_quota: 131072")));
        await Passes(3);
        Assert.Equal(before, CountWrites.Count);
        Assert.Equal(VGpuState.Active, Assert.Single(_host.Reconciler.Current.Functions).State);
    }
}
