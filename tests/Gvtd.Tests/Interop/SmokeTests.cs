using System.Text.Json;
using Gvtd.Interop;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Interop;

public class SmokeTests
{
    [Fact]
    public void Echo_round_trips_through_busctl()
    {
        var svc = new TestService();
        using var bus = new TestBus(svc.Export);
        using var doc = Busctl.Json(bus.Address, "call", TestBus.Service, TestService.Path, TestService.Iface, "Echo", "s", "hello");
        Assert.Equal("s", doc.RootElement.GetProperty("type").GetString());
        Assert.Equal("hello", doc.RootElement.GetProperty("data")[0].GetString());
    }
}
