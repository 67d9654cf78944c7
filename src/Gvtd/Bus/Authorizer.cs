using Gvtd.Contract;
using Microsoft.Extensions.Logging;
using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>
/// Who may change things: root, or whoever polkit grants org.gvtd.Gvtd1.manage (asked with the
/// caller's bus name, honouring the caller's allow-interactive-authorization flag). Without polkit on
/// the bus, only root. Reading needs no authorisation at all. The questions are asynchronous: other
/// calls are answered while an administrator types a password.
/// </summary>
internal sealed class Authorizer(ILogger logger)
{
    private const string Polkit = "org.freedesktop.PolicyKit1";
    private static readonly TimeSpan BusTimeout = TimeSpan.FromSeconds(5);
    /// <summary>polkit's own agents give up after a few minutes; a non-interactive check should be instant.</summary>
    private static readonly TimeSpan InteractiveTimeout = TimeSpan.FromMinutes(5), QuietTimeout = TimeSpan.FromSeconds(25);

    /// <summary>True when the call may go ahead; otherwise the caller has been answered AccessDenied.</summary>
    public async Task<bool> AuthorizeAsync(BusCall call)
    {
        uint uid;
        try
        {
            uid = await OutgoingCall.CallerUidAsync(call.Connection, call.Sender, BusTimeout);
        }
        catch (Exception e) when (e is DBusErrorReplyException or DBusConnectionException or TimeoutException)
        {
            logger.LogWarning("Cannot tell who sent {Member}: {Error}", call.Member, e.Message);
            return Deny(call, "gvtd could not determine who is calling");
        }
        if (uid == 0) return true;

        var interactive = call.AllowsInteraction;
        try
        {
            var (authorized, challenge) = await OutgoingCall.CallAsync(call.Connection, Polkit, "/org/freedesktop/PolicyKit1/Authority",
                "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization", "(sa{sv})sa{ss}us",
                (ref MessageWriter w) => WriteCheck(ref w, call.Sender, interactive),
                (m, _) =>
                {
                    var r = m.GetBodyReader();
                    r.AlignStruct();
                    return (r.ReadBool(), r.ReadBool());
                },
                interactive ? InteractiveTimeout : QuietTimeout);
            if (authorized) return true;
            return Deny(call, challenge ? "authentication is required and was not given" : "polkit did not authorise it");
        }
        catch (DBusErrorReplyException e) when (e.ErrorName is BusErrors.ServiceUnknown or BusErrors.NameHasNoOwner)
        {
            return Deny(call, "it needs root, and polkit is not running to grant it otherwise");
        }
        catch (Exception e) when (e is DBusErrorReplyException or DBusConnectionException or TimeoutException)
        {
            logger.LogWarning("Asking polkit about {Member} failed: {Error}", call.Member, e.Message);
            return Deny(call, $"polkit could not be asked ({(e is TimeoutException ? "it did not answer in time" : e.Message)})");
        }
    }

    /// <summary>CheckAuthorization(subject, action, details, flags, cancellation id); the subject is the caller's bus name.</summary>
    private static void WriteCheck(ref MessageWriter w, string sender, bool interactive)
    {
        w.WriteStructureStart();
        w.WriteString("system-bus-name");
        var subject = w.WriteDictionaryStart();
        w.WriteDictionaryEntryStart();
        w.WriteString("name");
        w.WriteVariantString(sender);
        w.WriteDictionaryEnd(subject);
        w.WriteString(BusNames.ManageAction);
        w.WriteDictionaryEnd(w.WriteDictionaryStart()); // no details
        w.WriteUInt32(interactive ? 1u : 0u);            // AllowUserInteraction
        w.WriteString("");                               // no cancellation id
    }

    private static bool Deny(BusCall call, string why)
    {
        call.ReplyError(BusErrors.AccessDenied,
            $"{call.Member} changes vGPUs and needs root or the polkit action {BusNames.ManageAction}: {why}. Run it with sudo.");
        return false;
    }
}
