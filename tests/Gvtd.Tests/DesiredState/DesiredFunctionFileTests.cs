using Gvtd.DesiredState;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Support.Yaml;

namespace Gvtd.Tests.DesiredState;

/// <summary>The 'sriov' list: read as the man page shows it, and every mistake at its file:line:column.</summary>
public sealed class DesiredFunctionFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_laptop_example_reads_with_defaults()
    {
        var state = Load(_dir, "sriov:\n  - pf: 00:02.0\n    vfs: 2\n    name: Tiger Lake iGPU\n");

        var pf = Assert.Single(state.Functions);
        Assert.Equal(("0000:00:02.0", 2, "vfio-pci", "Tiger Lake iGPU"), (pf.Address, pf.Vfs, pf.Driver, pf.Name));
        Assert.Empty(pf.Provision);
        Assert.Null(pf.VGpuType);
        Assert.Empty(state.VGpus); // a file with only 'sriov' says what it wants: no vGPUs
    }

    [Fact]
    public void The_server_example_reads_provisioning_driver_and_vgpu_type()
    {
        var state = Load(_dir, """
            vgpus: []
            sriov:
              - pf: "0000:03:00.0"
                vfs: 4
                driver: vfio-pci
                provision:
                  exec_quantum_ms: 20
                  preempt_timeout_us: 40000
              - pf: "0000:41:00.0"
                vfs: 8
                driver: nvidia
                vgpu-type: NVIDIA A10-4Q
            """);

        Assert.Equal(["0000:03:00.0", "0000:41:00.0"], state.Functions.Select(f => f.Address));
        Assert.Equal("20", state.Functions[0].Provision["exec_quantum_ms"]);
        Assert.Equal(("nvidia", "NVIDIA A10-4Q"), (state.Functions[1].Driver, state.Functions[1].VGpuType));
    }

    [Theory]
    [InlineData("sriov:\n  - pf: mtty\n    vfs: 2\n", "mtty", "is not a PCI address")]
    [InlineData("sriov:\n  - pf: 00:02.9\n    vfs: 2\n", "00:02.9", "is not a PCI address")]
    [InlineData("sriov:\n  - pf: 00:02.0\n    vfs: two\n", "two", "is not a number of virtual functions")]
    [InlineData("sriov:\n  - pf: 00:02.0\n    vfs: -1\n", "-1", "is not a number of virtual functions")]
    [InlineData("sriov:\n  - pf: 00:02.0\n    vfs: 5000\n", "5000", "is not a number of virtual functions")]
    [InlineData("sriov:\n  - pf: 00:02.0\n    vfs: 2\n    driver: ../vfio\n", "../vfio", "must be a single name")]
    [InlineData("sriov:\n  - pf: 00:02.0\n    vfs: 2\n    provision:\n      ../x: 1\n", "../x", "attribute names are the driver's file names")]
    [InlineData("sriov:\n  - pf: 00:02.0\n    vfs: 2\n    provision:\n      exec_quantum_ms: 2 0\n", "2 0", "must be one word")]
    [InlineData("sriov:\n  - pf: 00:02.0\n    vfs: 2\n    provision: 20\n", "20", "provision must be a mapping")]
    [InlineData("sriov:\n  - pf: 00:02.0\n    vfs: 2\n    colour: red\n", "colour", "unknown key 'colour'")]
    [InlineData("sriov:\n  - pf: 00:02.0\n", "pf:", "missing 'vfs'")]
    [InlineData("sriov:\n  - vfs: 2\n", "vfs:", "missing 'pf'")]
    [InlineData("sriov: 2\n", "2", "'sriov' must be a list")]
    [InlineData("sriov:\n  - 00:02.0\n", "00:02.0", "must be a mapping with pf and vfs")]
    public void Mistakes_are_reported_where_they_are(string text, string at, string says) => AssertSingleError(_dir, text, at, says);

    [Fact]
    public void A_pf_declared_twice_is_refused_at_the_second()
    {
        var text = "sriov:\n  - pf: 00:02.0\n    vfs: 2\n  - pf: 0000:00:02.0\n    vfs: 3\n";
        Assert.Contains("declared twice (first at", AssertSingleError(_dir, text, "pf: 0000", "pf 0000:00:02.0").Message);
    }

    [Fact]
    public void A_device_is_not_both_an_sriov_pf_and_an_mdev_parent()
    {
        var text = "vgpus:\n" + VGpu(U1, "i915-GVTg_V5_4", "0000:00:02.0") + "sriov:\n  - pf: 00:02.0\n    vfs: 2\n";
        AssertSingleError(_dir, text, "pf: 00", "is both an SR-IOV pf here and the parent of vGPU");
    }

    [Fact]
    public void A_file_with_neither_key_is_still_refused()
    {
        var error = Assert.Single(Errors(_dir, "settings:\n  prune: owned\n"));
        Assert.Contains("no 'vgpus' or 'sriov' key", error.Message);
    }
}
