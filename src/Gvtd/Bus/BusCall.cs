using Gvtd.Contract;
using Microsoft.Extensions.Logging;
using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>Writes a reply or signal body.</summary>
internal delegate void BodyWriter(ref MessageWriter writer);

/// <summary>
/// One incoming method call while gvtd works on it: who sent it, its arguments, and the one reply
/// it gets, which may be sent long after the library's handler returned (a polkit question, a pass).
/// Whatever happens, exactly one reply goes out: a handler that throws is answered with
/// org.freedesktop.DBus.Error.Failed and gvtd's own one-line message, and the connection stays.
/// </summary>
internal sealed class BusCall(MethodContext context, string outSignature, ILogger logger)
{
    private readonly Message _request = context.Request;

    public string Member { get; } = context.Request.MemberAsString ?? "";

    public string Sender { get; } = context.Request.SenderAsString ?? "";

    public DBusConnection Connection => context.Connection;

    /// <summary>The caller lets polkit ask its user for a password (busctl and gvtctl do by default).</summary>
    public bool AllowsInteraction => (_request.MessageFlags & MessageFlags.AllowInteractiveAuthorization) != 0;

    /// <summary>The arguments; valid only until the handler first awaits, so read them at once.</summary>
    public Reader Arguments() => _request.GetBodyReader();

    public void Reply(BodyWriter? body = null)
    {
        var writer = context.CreateReplyWriter(outSignature.Length == 0 ? null : outSignature);
        try
        {
            body?.Invoke(ref writer);
            context.Reply(writer.CreateMessage());
        }
        finally
        {
            writer.Dispose();
        }
    }

    public void ReplyError(string name, string message) => context.ReplyError(name, message);

    /// <summary>Runs the handler; when it finishes later, the context is kept until then and disposed after.</summary>
    public void Run(MethodHandler handler)
    {
        Task work;
        try
        {
            work = handler(this);
        }
        catch (Exception e)
        {
            work = Task.FromException(e);
        }
        if (work.IsCompleted)
        {
            Finish(work);
            return;
        }
        context.DisposesAsynchronously = true;
        work.ContinueWith(t =>
        {
            try
            {
                Finish(t);
            }
            catch (Exception e)
            {
                // Only a closed connection can fail a reply; gvtd is stopping then (BusService).
                logger.LogDebug("Could not answer {Member}: {Error}", Member, e.Message);
            }
            finally
            {
                context.Dispose();
            }
        }, TaskScheduler.Default);
    }

    private void Finish(Task work)
    {
        if (work.Exception?.GetBaseException() is { } e)
        {
            logger.LogError(e, "{Member} failed unexpectedly", Member);
            ReplyError(BusErrors.Failed, $"{Member} failed because of an internal error; the journal has details (journalctl -u gvtd)");
        }
        else if (!context.ReplySent && !context.NoReplyExpected)
        {
            logger.LogError("{Member} finished without a reply", Member);
            ReplyError(BusErrors.Failed, $"{Member} finished without an answer; the journal has details (journalctl -u gvtd)");
        }
    }
}
