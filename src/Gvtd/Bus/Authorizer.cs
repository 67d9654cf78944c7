using Gvtd.Contract;
using Microsoft.Extensions.Logging;
using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>
/// Who may change things: root, or whoever polkit grants org.gvtd.Gvtd1.manage (asked with the
/// caller's bus name, honouring the caller's allow-interactive-authorization flag). Without polkit on
/// the bus, only root. Reading needs no authorisation at all. The questions are asynchronous: other
/// calls are answered while an administrator types a password.
///
/// Answers come in the caller's time (<see cref="AuthorizationTimes"/>): a caller that did not allow
/// interaction and would need a password gets InteractiveAuthorizationRequired at once; an
/// interactive check is given up after AuthorizationTimes.Interactive, cancelled in polkit, and
/// denied, so nothing is changed after gvtctl (which waits longer) has stopped listening.
/// </summary>
internal sealed class Authorizer(ILogger logger)
{
    private const string Polkit = "org.freedesktop.PolicyKit1", Authority = "/org/freedesktop/PolicyKit1/Authority",
        AuthorityInterface = "org.freedesktop.PolicyKit1.Authority";
    private static readonly TimeSpan BusTimeout = TimeSpan.FromSeconds(5);
    /// <summary>A check that cannot ask anyone should be instant; this only bounds a polkit that hangs.</summary>
    private static readonly TimeSpan QuietTimeout = TimeSpan.FromSeconds(25);
    private static long _checks;

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
        // Named, so that a check gvtd stops waiting for can be cancelled in polkit (and its prompt closed).
        var cancellation = $"gvtd-{Environment.ProcessId}-{Interlocked.Increment(ref _checks)}";
        try
        {
            var (authorized, challenge) = await OutgoingCall.CallAsync(call.Connection, Polkit, Authority, AuthorityInterface,
                "CheckAuthorization", "(sa{sv})sa{ss}us",
                (ref MessageWriter w) => WriteCheck(ref w, call.Sender, interactive, cancellation),
                (m, _) =>
                {
                    var r = m.GetBodyReader();
                    r.AlignStruct();
                    return (r.ReadBool(), r.ReadBool());
                },
                interactive ? AuthorizationTimes.Interactive : QuietTimeout);
            if (authorized) return true;
            if (challenge && !interactive)
            {
                call.ReplyError(BusErrors.InteractiveAuthorizationRequired,
                    $"{call.Member} needs an administrator's password, and the call did not allow asking for it; call it again allowing interactive authorization (gvtctl does; busctl --allow-interactive-authorization=yes), or use sudo.");
                return false;
            }
            return Deny(call, challenge ? "authentication is required and was not given" : "polkit did not authorise it");
        }
        catch (TimeoutException)
        {
            // Stop the prompt too, so that nobody authorises a change gvtd no longer waits for.
            _ = CancelAsync(call.Connection, cancellation);
            logger.LogWarning("Asking polkit about {Member} took over {Seconds} s; cancelled the check and refused the call", call.Member,
                (interactive ? AuthorizationTimes.Interactive : QuietTimeout).TotalSeconds);
            return Deny(call, interactive
                ? $"nobody authenticated within {AuthorizationTimes.Interactive.TotalSeconds:0} s"
                : "polkit did not answer in time");
        }
        catch (DBusErrorReplyException e) when (e.ErrorName is BusErrors.ServiceUnknown or BusErrors.NameHasNoOwner)
        {
            return Deny(call, "it needs root, and polkit is not running to grant it otherwise");
        }
        catch (Exception e) when (e is DBusErrorReplyException or DBusConnectionException)
        {
            logger.LogWarning("Asking polkit about {Member} failed: {Error}", call.Member, e.Message);
            return Deny(call, $"polkit could not be asked ({e.Message})");
        }
    }

    private async Task CancelAsync(DBusConnection bus, string cancellation)
    {
        try
        {
            await OutgoingCall.CallAsync(bus, Polkit, Authority, AuthorityInterface, "CancelCheckAuthorization", "s",
                (ref MessageWriter w) => w.WriteString(cancellation), (_, _) => true, BusTimeout);
        }
        catch (Exception e) when (e is DBusErrorReplyException or DBusConnectionException or TimeoutException)
        {
            logger.LogWarning("Cancelling the polkit check {Id} failed: {Error}", cancellation, e.Message);
        }
    }

    /// <summary>CheckAuthorization(subject, action, details, flags, cancellation id); the subject is the caller's bus name.</summary>
    private static void WriteCheck(ref MessageWriter w, string sender, bool interactive, string cancellation)
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
        w.WriteString(cancellation);
    }

    private static bool Deny(BusCall call, string why)
    {
        call.ReplyError(BusErrors.AccessDenied,
            $"{call.Member} changes vGPUs and needs root or the polkit action {BusNames.ManageAction}: {why}. Run it with sudo.");
        return false;
    }
}
