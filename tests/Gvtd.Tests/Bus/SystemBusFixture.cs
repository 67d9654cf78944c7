using Gvtd.Tests.Support;

namespace Gvtd.Tests.Bus;

/// <summary>
/// A private dbus-daemon configured like the system bus (deny by default) that includes gvtd's
/// shipped policy file, so the tests exercise the policy users install, not a permissive stand-in.
/// Root may also own org.freedesktop.PolicyKit1, for the fake polkit authority.
/// </summary>
public sealed class SystemBusFixture : IDisposable
{
    public DBusDaemon Daemon { get; }
    public string Address => Daemon.Address;

    public SystemBusFixture()
    {
        var policy = Path.Combine(RepoRoot.Path, "packaging", "dbus", "org.gvtd.Gvtd1.conf");
        Daemon = DBusDaemon.Start(socket => $"""
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>system</type>
              <listen>unix:path={socket}</listen>
              <auth>EXTERNAL</auth>
              <policy context="default">
                <allow user="*"/>
                <deny own="*"/>
                <deny send_type="method_call"/>
                <allow send_type="signal"/>
                <allow send_requested_reply="true" send_type="method_return"/>
                <allow send_requested_reply="true" send_type="error"/>
                <allow receive_type="method_call"/>
                <allow receive_type="method_return"/>
                <allow receive_type="error"/>
                <allow receive_type="signal"/>
                <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
                <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
                <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
                <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
              </policy>
              <policy user="root">
                <allow own="org.freedesktop.PolicyKit1"/>
                <allow send_destination="org.freedesktop.PolicyKit1"/>
                <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
              </policy>
              <include>{policy}</include>
            </busconfig>
            """);
    }

    public void Dispose() => Daemon.Dispose();
}

/// <summary>The checkout's top directory (where gvtd.sln is), found from the test binaries.</summary>
public static class RepoRoot
{
    public static readonly string Path = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "gvtd.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find gvtd.sln above " + AppContext.BaseDirectory);
    }
}
