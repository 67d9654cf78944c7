using Gvtd.Interop;

namespace Gvtd.Tests.Interop;

/// <summary>Synchronous wrapper over CallAsync for tests: reads the reply inside onReply (the only place it is valid).</summary>
internal static class Calls
{
    public static T Call<T>(BusConnection client, string path, string iface, string member, Action<MessageWriter>? args, Func<MethodReply, T> read)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.CallAsync(TestBus.Service, path, iface, member, args, reply =>
        {
            try { tcs.SetResult(read(reply)); }
            catch (Exception e) { tcs.SetException(e); }
        }, TimeSpan.FromSeconds(5));
        Assert.True(tcs.Task.Wait(TimeSpan.FromSeconds(10)), $"no reply to {member}");
        return tcs.Task.Result;
    }

    /// <summary>The error (name, message) of a call expected to fail.</summary>
    public static (string? Name, string? Message) Error(BusConnection client, string member, Action<MessageWriter>? args = null) =>
        Call(client, TestService.Path, TestService.Iface, member, args, r =>
        {
            Assert.True(r.IsError, $"{member} unexpectedly succeeded");
            return (r.ErrorName, r.ErrorMessage);
        });
}
