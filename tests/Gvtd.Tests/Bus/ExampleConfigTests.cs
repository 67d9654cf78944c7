using Gvtd.Tests.Support;

namespace Gvtd.Tests.Bus;

/// <summary>The README's first command: the shipped example on the simulated GPU.</summary>
[Collection(SystemBusCollection.Name)]
public sealed class ExampleConfigTests(SystemBusFixture bus)
{
    [Fact]
    public void ShippedExample_CreatesItsVGpus_AndLaterPassesCreateNothing()
    {
        var example = File.ReadAllText(Path.Combine(RepoRoot.Path, "config", "vgpus.yaml"));
        using var gvtd = GvtdProcess.Start(bus.Address, example);
        var declared = new Gvtd.DesiredState.DesiredStateLoader(gvtd.ConfigPath, gvtd.RuntimeDir).Load().VGpus;

        var second = Busctl.Json(bus.Address, "call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "Reconcile")
            .RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetUInt32()).ToArray();

        Assert.NotEmpty(declared);
        Assert.Equal(declared.Select(v => v.Uuid).Order(), ManagerTests.Devices(gvtd));
        Assert.Equal([0u, 0u, 0u], second);
        gvtd.WaitForLog($"created {declared.Count}, removed 0, failed 0");
        gvtd.WaitForLog("nothing to change");
    }
}
