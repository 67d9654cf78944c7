using Gvtd.Contract;
using Tmds.DBus.Protocol;

namespace Gvtd.Bus;

/// <summary>org.freedesktop.DBus.Properties on one object: Get, GetAll, and Set (every property is read-only).</summary>
internal static class PropertiesCall
{
    public static void Answer<T>(MethodContext context, BusInterface<T> iface, T item) where T : class
    {
        var request = context.Request;
        var member = request.MemberAsString;
        var signature = request.SignatureAsString ?? "";
        var expected = member switch { "Get" => "ss", "GetAll" => "s", "Set" => "ssv", _ => null };
        if (expected is null)
        {
            context.ReplyError(BusErrors.UnknownMethod, $"Unknown method {member} or interface {BusNames.Properties}.");
            return;
        }
        if (signature != expected)
        {
            context.ReplyError(BusErrors.InvalidArgs, $"Invalid arguments '{signature}' to call {BusNames.Properties}.{member}(), expecting '{expected}'.");
            return;
        }

        var reader = request.GetBodyReader();
        var interfaceName = reader.ReadString();
        // An empty interface name means "any interface" (the D-Bus specification allows it for Get and GetAll).
        if (interfaceName.Length > 0 && interfaceName != iface.Name)
        {
            context.ReplyError(BusErrors.UnknownInterface, $"Unknown interface '{interfaceName}'.");
            return;
        }
        if (member == "GetAll")
        {
            var all = context.CreateReplyWriter("a{sv}");
            try
            {
                iface.Properties.WriteDictionary(ref all, item);
                context.Reply(all.CreateMessage());
            }
            finally
            {
                all.Dispose();
            }
            return;
        }

        var name = reader.ReadString();
        if (iface.Properties.Find(name) is not { } entry)
        {
            context.ReplyError(BusErrors.UnknownProperty, $"Unknown property '{name}'.");
            return;
        }
        if (member == "Set")
        {
            context.ReplyError(BusErrors.PropertyReadOnly, $"Property '{name}' is not writable.");
            return;
        }
        var one = context.CreateReplyWriter("v");
        try
        {
            PropertyTable<T>.WriteVariant(ref one, entry, item);
            context.Reply(one.CreateMessage());
        }
        finally
        {
            one.Dispose();
        }
    }
}
