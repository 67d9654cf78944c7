using Gvtd.Tests.Support;

namespace Gvtd.Tests.Bus;

/// <summary>
/// A private dbus-daemon configured like the system bus (tests/system-bus.conf.in: deny by default,
/// plus gvtd's shipped policy file), so the tests exercise the policy users install, not a
/// permissive stand-in. Root may also own org.freedesktop.PolicyKit1, for the fake polkit authority.
/// </summary>
public sealed class SystemBusFixture : IDisposable
{
    public DBusDaemon Daemon { get; }
    public string Address => Daemon.Address;

    public SystemBusFixture() => Daemon = DBusDaemon.Start(Config);

    /// <summary>A system bus's configuration (Debian's default policy plus gvtd's) listening on <paramref name="socket"/>.</summary>
    public static string Config(string socket)
    {
        var policy = Path.Combine(RepoRoot.Path, "packaging", "dbus", "org.gvtd.Gvtd1.conf");
        var template = File.ReadAllText(Path.Combine(RepoRoot.Path, "tests", "system-bus.conf.in"));
        return template.Replace("@SOCKET@", socket).Replace("@POLICY@", policy);
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
