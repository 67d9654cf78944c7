using System.Collections.Concurrent;
using Gvtd.Interop;
using Gvtd.Tests.Support;

namespace Gvtd.Tests.Interop;

public sealed class MethodTests : IDisposable
{
    private readonly TestService _svc = new();
    private readonly TestBus _bus;

    public MethodTests() => _bus = new TestBus(_svc.Export);

    public void Dispose() => _bus.Dispose();

    private System.Text.Json.JsonElement CallJson(string member, params string[] sigAndArgs)
    {
        using var doc = Busctl.Json(_bus.Address, ["call", TestBus.Service, TestService.Path, TestService.Iface, member, .. sigAndArgs]);
        return doc.RootElement.Clone();
    }

    [Fact]
    public void Basic_types_round_trip()
    {
        Assert.Equal("hello wörld", CallJson("Echo", "s", "hello wörld").GetProperty("data")[0].GetString());
        Assert.Equal(7u, CallJson("Add", "uu", "3", "4").GetProperty("data")[0].GetUInt32());
        Assert.False(CallJson("Not", "b", "true").GetProperty("data")[0].GetBoolean());
        Assert.Equal(ulong.MaxValue - 1, CallJson("Double", "t", (ulong.MaxValue / 2).ToString()).GetProperty("data")[0].GetUInt64());
        Assert.Equal(-42, CallJson("Negate", "i", "42").GetProperty("data")[0].GetInt32());

        var path = CallJson("ItemPath", "s", "a-b");
        Assert.Equal("o", path.GetProperty("type").GetString());
        Assert.Equal("/org/gvtd/Test/items/a_2db", path.GetProperty("data")[0].GetString());
    }

    [Fact]
    public void Array_of_structs_round_trips()
    {
        var r = CallJson("SwapPairs", "a(ss)", "2", "a", "b", "c", "d");
        Assert.Equal("a(ss)", r.GetProperty("type").GetString());
        var pairs = r.GetProperty("data")[0];
        Assert.Equal(2, pairs.GetArrayLength());
        Assert.Equal("b", pairs[0][0].GetString());
        Assert.Equal("a", pairs[0][1].GetString());
        Assert.Equal("d", pairs[1][0].GetString());
        Assert.Equal("c", pairs[1][1].GetString());
    }

    [Fact]
    public void Deferred_reply_from_another_thread_is_sent_on_the_bus_thread()
    {
        Assert.Equal("later:x", CallJson("Deferred", "s", "x").GetProperty("data")[0].GetString());
        Assert.Equal(1, _svc.DeferredOnBusThread);
    }

    [Fact]
    public void BusException_becomes_that_error()
    {
        var r = Busctl.Run(_bus.Address, "call", TestBus.Service, TestService.Path, TestService.Iface, "FailBus");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("You may not.", r.Stderr);

        var client = _bus.Connect();
        var (name, message) = Calls.Error(client, "FailBus");
        Assert.Equal("org.gvtd.Error.NotAllowed", name);
        Assert.Equal("You may not.", message);
    }

    [Fact]
    public void Other_exceptions_become_Failed_without_details_and_are_reported()
    {
        var seen = new ConcurrentQueue<Exception>();
        Action<Exception> handler = e => seen.Enqueue(e);
        BusConnection.UnhandledException += handler;
        try
        {
            var client = _bus.Connect();
            var (name, message) = Calls.Error(client, "FailBug");
            Assert.Equal(BusErrors.Failed, name);
            Assert.DoesNotContain("secret", message);
            Assert.DoesNotContain(" at ", message);
            Assert.Contains(seen, e => e is InvalidOperationException && e.Message == "secret internal detail");
        }
        finally
        {
            BusConnection.UnhandledException -= handler;
        }
    }

    [Fact]
    public void Wrong_signature_gives_InvalidArgs()
    {
        var r = Busctl.Run(_bus.Address, "call", TestBus.Service, TestService.Path, TestService.Iface, "Echo", "u", "5");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("expecting 's'", r.Stderr);

        var client = _bus.Connect();
        var (name, _) = Calls.Error(client, "Echo", w => w.Write(5u));
        Assert.Equal(BusErrors.InvalidArgs, name);
    }

    [Fact]
    public void Unprivileged_caller_can_call_and_SenderEuid_reports_its_uid()
    {
        var nobody = Busctl.Run(_bus.Address, ["--json=short", "call", TestBus.Service, TestService.Path, TestService.Iface, "Whoami"], asNobody: true).EnsureSuccess();
        using (var doc = nobody.Json())
            Assert.Equal(65534u, doc.RootElement.GetProperty("data")[0].GetUInt32());

        Assert.Equal(0u, CallJson("Whoami").GetProperty("data")[0].GetUInt32());
    }

    [Fact]
    public void CallAsync_round_trips_struct_with_variants_and_struct_reply()
    {
        var client = _bus.Connect();
        var (a, b, dict) = Calls.Call(client, TestService.Path, TestService.Iface, "Check", w =>
        {
            w.OpenStruct("sa{sv}");
            w.Write("unix-process");
            w.OpenArray("{sv}");
            w.OpenDictEntry("sv"); w.Write("pid"); w.WriteVariant("u", v => v.Write(1234u)); w.Close();
            w.OpenDictEntry("sv"); w.Write("start-time"); w.WriteVariant("t", v => v.Write(99UL)); w.Close();
            w.OpenDictEntry("sv"); w.Write("name"); w.WriteVariant("s", v => v.Write("x")); w.Close();
            w.Close();
            w.Close();
        }, r =>
        {
            Assert.False(r.IsError, r.ErrorMessage);
            var body = r.Body!;
            Assert.Equal("(bba{ss})", body.Signature);
            body.EnterContainer('r', "bba{ss}");
            bool x = body.ReadBool(), y = body.ReadBool();
            var d = body.ReadStringDictionary();
            body.ExitContainer();
            Assert.True(body.AtEnd(complete: true));
            return (x, y, d);
        });
        Assert.True(a);
        Assert.False(b);
        Assert.Equal("unix-process", dict["kind"]);
        Assert.Equal("1234", dict["detail.pid"]);
        Assert.Equal("99", dict["detail.start-time"]);
        Assert.Equal("x", dict["detail.name"]);
    }

    [Fact]
    public async Task CallAsync_reports_unknown_service()
    {
        var client = _bus.Connect();
        var tcs = new TaskCompletionSource<MethodReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.CallAsync("org.gvtd.Nobody", "/", "org.gvtd.X", "Y", null, r => tcs.SetResult(r), TimeSpan.FromSeconds(5));
        var reply = await tcs.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(reply.IsError);
        Assert.Equal(BusErrors.ServiceUnknown, reply.ErrorName);
    }

    [Fact]
    public void Introspection_shows_names_and_no_privileged_annotation()
    {
        var r = Busctl.Run(_bus.Address, "introspect", "--xml-interface", TestBus.Service, TestService.Path).EnsureSuccess();
        Assert.Contains("<arg type=\"u\" name=\"a\" direction=\"in\"/>", r.Stdout);
        Assert.Contains("<arg type=\"u\" name=\"sum\" direction=\"out\"/>", r.Stdout);
        Assert.Contains("<arg type=\"(sa{sv})\" name=\"subject\" direction=\"in\"/>", r.Stdout);
        Assert.Contains("<arg type=\"(bba{ss})\" name=\"result\" direction=\"out\"/>", r.Stdout);
        Assert.Contains("<arg type=\"s\" name=\"text\"/>", r.Stdout);  // signal args
        Assert.DoesNotContain("org.freedesktop.systemd1.Privileged", r.Stdout);
        Assert.Contains("EmitsChangedSignal\" value=\"const\"", r.Stdout);
    }
}
