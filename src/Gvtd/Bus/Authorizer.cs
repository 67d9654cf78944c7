using Gvtd.Interop;
using Microsoft.Extensions.Logging;

namespace Gvtd.Bus;

/// <summary>
/// Who may change things: root, or whoever polkit grants org.gvtd.Gvtd1.manage (asked with the
/// caller's bus name, honouring the caller's allow-interactive-authorization flag). Without polkit on
/// the bus, only root. Reading needs no authorisation at all. The polkit question is asynchronous:
/// the bus thread keeps serving others while an administrator types a password.
/// </summary>
internal sealed class Authorizer(BusConnection bus, ILogger logger)
{
    private const string Polkit = "org.freedesktop.PolicyKit1";

    public void Authorize(MethodCall call, Action allowed)
    {
        uint euid;
        try
        {
            euid = call.SenderEuid();
        }
        catch (BusException e)
        {
            logger.LogWarning("Cannot tell who sent {Member}: {Error}", call.Member, e.Message);
            Deny(call, "gvtd could not determine who is calling");
            return;
        }
        if (euid == 0)
        {
            allowed();
            return;
        }

        var interactive = call.AllowInteractiveAuthorization;
        bus.CallAsync(Polkit, "/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
            w =>
            {
                w.OpenStruct("sa{sv}");            // subject: the caller's bus name
                w.Write("system-bus-name");
                w.OpenArray("{sv}");
                w.OpenDictEntry("sv");
                w.Write("name");
                w.OpenVariant("s");
                w.Write(call.Sender);
                w.Close();
                w.Close();
                w.Close();
                w.Close();
                w.Write(BusNames.ManageAction);
                w.OpenArray("{ss}");                // no details
                w.Close();
                w.Write(interactive ? 1u : 0u);     // AllowUserInteraction
                w.Write("");                        // no cancellation id
            },
            reply =>
            {
                if (reply.IsError)
                {
                    if (reply.ErrorName is BusErrors.ServiceUnknown or BusErrors.NameHasNoOwner)
                        Deny(call, "it needs root, and polkit is not running to grant it otherwise");
                    else
                    {
                        logger.LogWarning("Asking polkit about {Member} failed: {Error}", call.Member, reply.ErrorMessage);
                        Deny(call, $"polkit could not be asked ({reply.ErrorMessage})");
                    }
                    return;
                }
                var body = reply.Body!;
                body.EnterContainer('r', "bba{ss}");
                var authorized = body.ReadBool();
                var challenge = body.ReadBool();
                if (authorized) allowed();
                else Deny(call, challenge ? "authentication is required and was not given" : "polkit did not authorise it");
            },
            interactive ? TimeSpan.FromMinutes(5) : TimeSpan.FromSeconds(25));
    }

    private static void Deny(MethodCall call, string why) =>
        call.ReplyError(BusErrors.AccessDenied,
            $"{call.Member} changes vGPUs and needs root or the polkit action {BusNames.ManageAction}: {why}. Run it with sudo.");
}
