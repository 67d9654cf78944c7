using System.Text.Json;
using System.Xml.Linq;
using Gvtd.Contract;
using Gvtd.Sysfs;
using Gvtd.Tests.Bus;
using Gvtd.Tests.Support;
using static Gvtd.Tests.Bus.Yaml;

namespace Gvtd.Tests.Gvtctl;

/// <summary>The built gvtctl against the real daemon behind the private system-type bus.</summary>
[Collection(SystemBusCollection.Name)]
public sealed class GvtctlTests(SystemBusFixture bus)
{
    private const string Esc = "\u001b";

    private GvtctlResult Gvtctl(params string[] args) => GvtctlRun.Run(bus.Address, args);

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Status_AllActive_ReportsTheDaemonsOwnAnswersAndExitsZero()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));

        var json = Gvtctl("status", "--json").Ok().Json();
        var text = Gvtctl("status").Ok();

        Assert.Equal(gvtd.Property("State")!, json.GetProperty("state").GetString());
        Assert.Equal(gvtd.Property("Version")!, json.GetProperty("version").GetString());
        Assert.Equal([gvtd.ConfigPath], json.GetProperty("configFiles").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(JsonValueKind.Null, json.GetProperty("configError").ValueKind);
        Assert.Equal(3600, json.GetProperty("intervalSeconds").GetInt32());
        Assert.Equal(2, json.GetProperty("desired").GetInt32());
        Assert.Equal(2, json.GetProperty("active").GetInt32());
        Assert.Equal(0, json.GetProperty("failed").GetInt32());
        Assert.True(json.GetProperty("allActive").GetBoolean());
        Assert.InRange(DateTimeOffset.Parse(json.GetProperty("lastReconcile").GetString()!), DateTimeOffset.UtcNow.AddMinutes(-2), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Contains(gvtd.ConfigPath, text.Stdout);
        Assert.Contains("2 declared, 2 active, 0 failed", text.Stdout);
        Assert.DoesNotContain(Esc, text.Stdout);
        Assert.Equal("", text.Stderr);
    }

    [Fact]
    public void Status_WithADeclaredVGpuNotActive_ExitsFour()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V9_9")));

        var text = Gvtctl("status");
        var json = Gvtctl("status", "--json");

        Assert.Equal(4, text.ExitCode);
        Assert.Contains("gvtctl plan", text.Stdout);
        Assert.Equal(4, json.ExitCode);
        Assert.False(json.Json().GetProperty("allActive").GetBoolean());
        Assert.Equal(1, json.Json().GetProperty("active").GetInt32());
        Assert.Empty(json.Json().GetProperty("awaitedParents").EnumerateArray());
    }

    [Fact]
    public void Status_WithAParentNotRegistered_SaysWhatItWaitsFor()
    {
        var yaml = Of((A, "i915-GVTg_V5_4")) + $"  - uuid: {B}\n    type: i915-GVTg_V5_8\n    parent: \"0000:00:03.0\"\n";
        using var gvtd = GvtdProcess.Start(bus.Address, yaml);

        var text = Gvtctl("status");
        var json = Gvtctl("status", "--json");

        Assert.Equal(4, text.ExitCode);
        Assert.Contains("waiting:    parent 0000:00:03.0: driver not loaded", text.Stdout);
        Assert.Equal(["0000:00:03.0"], json.Json().GetProperty("awaitedParents").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Status_WithAnInvalidFile_ShowsTheErrorAndReloadIsRefused()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        File.WriteAllText(gvtd.ConfigPath, "vgpus:\n  - uuid: not-a-uuid\n    type: x\n    parent: \"0000:00:02.0\"\n");

        var reload = Gvtctl("reload");
        var status = Gvtctl("status", "--json");

        Assert.Equal(1, reload.ExitCode);
        var line = Assert.Single(Lines(reload.Stderr));
        Assert.StartsWith("gvtctl: ", line);
        Assert.Contains("vgpus.yaml:", line);
        Assert.Equal(4, status.ExitCode);
        Assert.Equal(gvtd.Property("ConfigError")!.Trim('"'), status.Json().GetProperty("configError").GetString());
    }

    [Fact]
    public void List_ShowsWhatTheYamlDeclares()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));

        var json = Gvtctl("list", "--json").Ok().Json();
        var text = Gvtctl("list").Ok();

        var byUuid = json.EnumerateArray().ToDictionary(e => e.GetProperty("uuid").GetString()!);
        Assert.Equal([A, B], byUuid.Keys.Order());
        foreach (var (uuid, type) in new[] { (A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8") })
        {
            var v = byUuid[uuid];
            Assert.Equal(type, v.GetProperty("type").GetString());
            Assert.Equal(Parent, v.GetProperty("parent").GetString());
            Assert.Equal("vm-" + uuid[^2..], v.GetProperty("name").GetString());
            Assert.Equal("active", v.GetProperty("state").GetString());
            Assert.False(v.GetProperty("inUse").GetBoolean());
            Assert.True(v.GetProperty("declared").GetBoolean());
            Assert.True(Directory.Exists(v.GetProperty("sysfsPath").GetString()));
            Assert.Contains(Lines(text.Stdout), l => l.StartsWith(uuid) && l.Contains("vm-" + uuid[^2..]) && l.Contains(type) && l.Contains("active"));
        }
        Assert.StartsWith("UUID", text.Stdout);
        Assert.DoesNotContain(Esc, text.Stdout);
    }

    [Fact]
    public void Types_ShowTheParentsTypesWithTheParsedGvtDescription()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var json = Gvtctl("types", "--json").Ok().Json();
        var shortForm = Gvtctl("types", "00:02.0", "--json").Ok().Json();
        var text = Gvtctl("types").Ok();
        var unknown = Gvtctl("types", "0000:99:00.0");

        var types = json.EnumerateArray().ToList();
        Assert.Equal(["i915-GVTg_V5_1", "i915-GVTg_V5_2", "i915-GVTg_V5_4", "i915-GVTg_V5_8"], types.Select(t => t.GetProperty("type").GetString()).Order());
        // What the simulated GPU's description files say (the seed manual's four types), written out
        // here rather than parsed with the parser gvtctl itself uses.
        var expected = new Dictionary<string, (string Resolution, long LowGmMiB, long HighGmMiB)>
        {
            ["i915-GVTg_V5_1"] = ("1920x1200", 512, 2048),
            ["i915-GVTg_V5_2"] = ("1920x1200", 256, 1024),
            ["i915-GVTg_V5_4"] = ("1920x1200", 128, 512),
            ["i915-GVTg_V5_8"] = ("1024x768", 64, 384),
        };
        foreach (var t in types)
        {
            Assert.Equal(Parent, t.GetProperty("parent").GetString());
            Assert.Equal("i915", t.GetProperty("driver").GetString());
            var want = expected[t.GetProperty("type").GetString()!];
            var gvt = t.GetProperty("gvt");
            Assert.Equal(want.Resolution, gvt.GetProperty("resolution").GetString());
            Assert.Equal(want.LowGmMiB, gvt.GetProperty("lowGmMiB").GetInt64());
            Assert.Equal(want.HighGmMiB, gvt.GetProperty("highGmMiB").GetInt64());
            var row = Assert.Single(Lines(text.Stdout), l => l.Contains(t.GetProperty("type").GetString()! + " "));
            Assert.Contains($"{want.LowGmMiB + want.HighGmMiB} MiB", row);
            Assert.Contains(want.Resolution, row);
        }
        Assert.Equal(types.Count, shortForm.GetArrayLength());
        // The daemon's own count: one V5_4 is in use, so it offers fewer than a fresh parent would.
        var busctl = Busctl.Json(bus.Address, "get-property", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/parent/_30000_3a00_3a02_2e0", "org.gvtd.Gvtd1.Parent", "Types");
        var available = busctl.RootElement.GetProperty("data").EnumerateArray().ToDictionary(e => e[0].GetString()!, e => e[4].GetUInt32());
        foreach (var t in types)
            Assert.Equal(available[t.GetProperty("type").GetString()!], t.GetProperty("available").GetUInt32());
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains(Parent, Assert.Single(Lines(unknown.Stderr)));
    }

    [Fact]
    public void Plan_ShowsTheDaemonsPlan()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V9_9")));

        var json = Gvtctl("plan", "--json").Ok().Json();
        var text = Gvtctl("plan").Ok();

        var byUuid = json.EnumerateArray().ToDictionary(e => e.GetProperty("uuid").GetString()!);
        Assert.Equal("keep", byUuid[A].GetProperty("action").GetString());
        Assert.Equal("blocked", byUuid[B].GetProperty("action").GetString());
        Assert.Equal("i915-GVTg_V9_9", byUuid[B].GetProperty("type").GetString());
        Assert.NotEqual("", byUuid[B].GetProperty("reason").GetString());
        Assert.Contains(Lines(text.Stdout), l => l.StartsWith("blocked") && l.Contains(B));
    }

    [Fact]
    public void AddAndRemove_RoundTrip_WithTheOnlyParentChosen()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var added = Gvtctl("add", "i915-GVTg_V5_8", "--json").Ok().Json();
        var uuid = added.GetProperty("uuid").GetString()!;
        Assert.Equal(Parent, added.GetProperty("parent").GetString());
        Assert.True(Directory.Exists(Path.Combine(gvtd.SysfsRoot, "bus", "mdev", "devices", uuid)));
        var listed = Gvtctl("list", "--json").Json().EnumerateArray().Single(e => e.GetProperty("uuid").GetString() == uuid);
        Assert.Equal("active", listed.GetProperty("state").GetString());
        Assert.Equal(added.GetProperty("objectPath").GetString(), listed.GetProperty("objectPath").GetString());

        var chosen = Guid.NewGuid().ToString();
        var text = Gvtctl("add", "i915-GVTg_V5_8", "--uuid", chosen.ToUpperInvariant(), "--parent", "00:02.0", "--runtime").Ok();
        Assert.Equal(chosen, text.Stdout.Trim());

        Gvtctl("remove", uuid).Ok();
        Gvtctl("remove", chosen, "--json").Ok();

        Assert.Equal([A], Gvtctl("list", "--json").Json().EnumerateArray().Select(e => e.GetProperty("uuid").GetString()));
        Assert.False(Directory.Exists(Path.Combine(gvtd.SysfsRoot, "bus", "mdev", "devices", uuid)));
    }

    [Fact]
    public void Remove_OfADeclarationInTheUsersFile_SaysWhereToEditIt_AndVerboseNamesTheError()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var plain = Gvtctl("remove", A);
        var verbose = Gvtctl("remove", A, "--verbose");

        Assert.Equal(1, plain.ExitCode);
        var line = Assert.Single(Lines(plain.Stderr));
        Assert.StartsWith("gvtctl: ", line);
        Assert.Contains(gvtd.ConfigPath, line);
        Assert.DoesNotContain("org.gvtd.Gvtd1.Error", line);
        Assert.Contains("org.gvtd.Gvtd1.Error.NotOwned", Assert.Single(Lines(verbose.Stderr)));
    }

    [Fact]
    public void Reconcile_And_Reload_Succeed()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        File.WriteAllText(gvtd.ConfigPath, Of((A, "i915-GVTg_V5_4"), (B, "i915-GVTg_V5_8")));

        Gvtctl("reload").Ok();
        var counts = Gvtctl("reconcile", "--json").Ok().Json();
        var text = Gvtctl("reconcile").Ok();

        Assert.True(Directory.Exists(Path.Combine(gvtd.SysfsRoot, "bus", "mdev", "devices", B)));
        Assert.Equal([0, 0, 0], new[] { "created", "removed", "failed" }.Select(k => counts.GetProperty(k).GetInt32()));
        Assert.Contains("created 0, removed 0, failed 0", text.Stdout);
    }

    [Fact]
    public void QemuArgs_And_LibvirtXml_UseTheVGpusSysfsPathAndGvtgOptions()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));
        var sysfs = Gvtctl("list", "--json").Json()[0].GetProperty("sysfsPath").GetString();

        var qemu = Gvtctl("qemu-args", A).Ok();
        var qemuJson = Gvtctl("qemu-args", A, "--json").Ok().Json();
        var xml = Gvtctl("libvirt-xml", A.ToUpperInvariant()).Ok();
        var xmlJson = Gvtctl("libvirt-xml", A, "--json").Ok().Json();
        var unknown = Gvtctl("qemu-args", Guid.NewGuid().ToString());

        var device = $"vfio-pci,sysfsdev={sysfs},display=on,x-igd-opregion=on,rombar=0";
        Assert.Equal($"-device {device}", qemu.Stdout.Trim());
        Assert.Equal(["-device", device], qemuJson.GetProperty("args").EnumerateArray().Select(e => e.GetString()));
        // One rule (the contract's VmArguments): gvtctl says exactly what the daemon's property says.
        var property = Busctl.Json(bus.Address, "get-property", "org.gvtd.Gvtd1", Gvtd.Contract.ObjectPaths.Encode("/org/gvtd/Gvtd1/vgpu", A),
            "org.gvtd.Gvtd1.VGpu", "QemuArgs").RootElement.GetProperty("data").GetString();
        Assert.Equal(qemu.Stdout.Trim(), property);
        var hostdev = XElement.Parse(xml.Stdout);
        Assert.Equal("hostdev", hostdev.Name.LocalName);
        Assert.Equal("mdev", (string?)hostdev.Attribute("type"));
        Assert.Equal("vfio-pci", (string?)hostdev.Attribute("model"));
        Assert.Equal("on", (string?)hostdev.Attribute("display"));
        Assert.Equal(A, (string?)hostdev.Element("source")!.Element("address")!.Attribute("uuid"));
        Assert.Equal(xml.Stdout.Trim(), xmlJson.GetProperty("xml").GetString());
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("gvtctl list", unknown.Stderr);
    }

    [Fact]
    public void ChangingCalls_AsAnUnprivilegedUser_AreRefusedWithHowToGetTheRight()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var list = GvtctlRun.Run(bus.Address, ["list", "--json"], asNobody: true);
        var reconcile = GvtctlRun.Run(bus.Address, ["reconcile"], asNobody: true);
        var add = GvtctlRun.Run(bus.Address, ["add", "i915-GVTg_V5_8", "--verbose"], asNobody: true);

        Assert.Equal(A, list.Ok().Json()[0].GetProperty("uuid").GetString());
        foreach (var refused in new[] { reconcile, add })
        {
            Assert.Equal(1, refused.ExitCode);
            var line = Assert.Single(Lines(refused.Stderr));
            Assert.StartsWith("gvtctl: not allowed to ", line);
            Assert.Contains("sudo", line);
        }
        Assert.Contains("org.freedesktop.DBus.Error.AccessDenied", add.Stderr);
        Assert.DoesNotContain("DBus.Error", reconcile.Stderr);
    }

    [Fact]
    public void DaemonNotRunning_GivesOneLineAndExitThree()
    {
        // No GvtdProcess: the private system bus is up, org.gvtd.Gvtd1 has no owner.
        foreach (var args in new[] { new[] { "status" }, ["list", "--json"], ["reconcile"] })
        {
            var r = Gvtctl(args);
            Assert.Equal(3, r.ExitCode);
            Assert.Equal("gvtctl: gvtd is not running: systemctl start gvtd\n", r.Stderr);
            Assert.Equal("", r.Stdout);
        }
        Assert.Contains("org.freedesktop.DBus.Error.ServiceUnknown", Gvtctl("status", "--verbose").Stderr);

        var noBus = GvtctlRun.Run("unix:path=/nonexistent/gvtctl-test-bus", ["status"]);
        Assert.Equal(3, noBus.ExitCode);
        Assert.StartsWith("gvtctl: cannot connect to the D-Bus system bus", Assert.Single(Lines(noBus.Stderr)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("frobnicate")]
    [InlineData("list --frob")]
    [InlineData("list extra")]
    [InlineData("remove not-a-uuid")]
    [InlineData("remove")]
    [InlineData("add")]
    [InlineData("add i915-GVTg_V5_4 --name desk")]
    [InlineData("add ../x")]
    [InlineData("status --parent 00:02.0")]
    [InlineData("--bus session status")]
    [InlineData("help nothing")]
    public void UsageErrors_ExitTwoWithOneLine(string args)
    {
        // No daemon needed (and none is running): usage is checked before any bus traffic.
        var r = Gvtctl(args.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("gvtctl: ", Assert.Single(Lines(r.Stderr)));
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void HelpAndVersion_ExitZero()
    {
        Assert.Equal($"gvtctl {Gvtd.Program.Version}", Gvtctl("--version").Ok().Stdout.Trim());
        Assert.Contains("qemu-args", Gvtctl("--help").Ok().Stdout);
        Assert.Contains("--runtime", Gvtctl("help", "add").Ok().Stdout);
        Assert.Contains("--runtime", Gvtctl("add", "--help").Ok().Stdout);
    }

    [Fact]
    public void Colour_OnlyOnATerminal_AndNeverWithNoColor()
    {
        using var gvtd = GvtdProcess.Start(bus.Address, Of((A, "i915-GVTg_V5_4")));

        var tty = GvtctlRun.OnTerminal(bus.Address, "list", noColor: false);
        var ttyNoColor = GvtctlRun.OnTerminal(bus.Address, "list", noColor: true);
        var piped = GvtctlRun.Run(bus.Address, ["list"]).Ok().Stdout;
        var pipedNoColor = GvtctlRun.Run(bus.Address, ["status"], env: new Dictionary<string, string?> { ["NO_COLOR"] = "1" }).Ok().Stdout;

        Assert.Contains(A, tty);
        Assert.Contains(Esc + "[", tty);
        Assert.Contains(A, ttyNoColor);
        Assert.DoesNotContain(Esc, ttyNoColor);
        Assert.DoesNotContain(Esc, piped);
        Assert.DoesNotContain(Esc, pipedNoColor);
    }

    [Fact]
    public void Output_RedirectedToOneFileByTwoRuns_KeepsBoth()
    {
        using var tmp = new TempDir();
        var file = tmp.Combine("out");
        var gvtctl = $"'{GvtctlRun.DotnetHost()}' '{GvtctlRun.Dll}'";
        using var sh = System.Diagnostics.Process.Start("sh", ["-c", $"{{ {gvtctl} --version; {gvtctl} help reload; }} > '{file}'"])!;
        sh.WaitForExit();

        var text = File.ReadAllText(file);
        Assert.StartsWith($"gvtctl {Gvtd.Program.Version}\n", text);
        Assert.Contains("Usage: gvtctl reload", text);
    }

    [Fact]
    public void Doctor_RunsWithoutTheDaemon_TextAndJsonAgree()
    {
        using var tmp = new TempDir();
        var json = GvtctlRun.Run(null, ["doctor", "--json", "--sysfs-root", tmp.Path, "--proc-root", "/proc"]);
        var text = GvtctlRun.Run(null, ["doctor", "--sysfs-root", tmp.Path, "--proc-root", "/proc"]);

        var doc = JsonDocument.Parse(json.Stdout).RootElement;
        var checks = doc.GetProperty("checks").EnumerateArray().ToList();
        Assert.NotEmpty(checks);
        int failed = checks.Count(c => c.GetProperty("status").GetString() == "failed");
        Assert.Equal(failed, doc.GetProperty("failed").GetInt32());
        Assert.Equal(failed > 0 ? 1 : 0, json.ExitCode);
        Assert.Equal(json.ExitCode, text.ExitCode);
        foreach (var c in checks)
            Assert.Contains(Lines(text.Stdout), l => l.Contains(c.GetProperty("title").GetString()!));
        Assert.All(checks, c => Assert.Contains(c.GetProperty("status").GetString(), new[] { "ok", "warning", "failed", "skipped" }));
        Assert.DoesNotContain(Esc, text.Stdout);
    }
}
