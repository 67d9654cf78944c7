using System.Net.Sockets;
using System.Runtime.InteropServices;
using Tmds.DBus.Protocol;

namespace Gvtd.Tests.Bus;

/// <summary>
/// A D-Bus connection the bus knows as uid 65534 (nobody, as busctl run through setpriv is), made
/// in this process so that one test can send a thousand calls at once. The bus takes the caller's
/// uid from the socket (SO_PEERCRED: the credentials of whoever connected it), so the socket is
/// connected from a thread of its own whose credentials alone are nobody's: the raw setres*id
/// system calls change only the calling thread (glibc's wrappers would change every thread), and
/// the thread ends right after, so nothing else ever runs with them.
/// </summary>
public static partial class NobodyConnection
{
    private const int Nobody = 65534;
    private const long SYS_setgroups = 116, SYS_setresuid = 117, SYS_setresgid = 119; // x86_64

    public static async Task<DBusConnection> ConnectAsync(string busAddress)
    {
        var connection = new DBusConnection(new Options(SocketPath(busAddress)));
        await connection.ConnectAsync();
        return connection;
    }

    private static string SocketPath(string address) =>
        address.Split(',').Select(p => p.Replace("unix:", "")).First(p => p.StartsWith("path=", StringComparison.Ordinal))["path=".Length..];

    private sealed class Options(string socketPath) : DBusConnectionOptions
    {
        protected override ValueTask<SetupResult> SetupAsync(CancellationToken cancellationToken) =>
            new(new SetupResult { ConnectionStream = new NetworkStream(ConnectedAsNobody(socketPath), ownsSocket: true), UserId = Nobody.ToString() });
    }

    private static Socket ConnectedAsNobody(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        Exception? failed = null;
        var thread = new Thread(() =>
        {
            try
            {
                // Groups first, while still allowed; the uid last.
                if (syscall(SYS_setgroups, 0, 0, 0) != 0 || syscall(SYS_setresgid, -1, Nobody, -1) != 0 || syscall(SYS_setresuid, -1, Nobody, -1) != 0)
                    throw new InvalidOperationException($"cannot become nobody on one thread: errno {Marshal.GetLastPInvokeError()} (the tests run as root)");
                socket.Connect(new UnixDomainSocketEndPoint(path));
            }
            catch (Exception e)
            {
                failed = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failed is not null)
        {
            socket.Dispose();
            throw failed;
        }
        return socket;
    }

    [LibraryImport("libc.so.6", SetLastError = true)] private static partial long syscall(long number, long a, long b, long c);
}
