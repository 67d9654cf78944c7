namespace Gvtd.Tests.Bus;

/// <summary>Small desired-state files for the daemon tests, on the simulated GPU at 0000:00:02.0.</summary>
public static class Yaml
{
    public const string Parent = "0000:00:02.0";
    public const string A = "11111111-2222-3333-4444-555555555501";
    public const string B = "11111111-2222-3333-4444-555555555502";

    public static string Of(params (string Uuid, string Type)[] vgpus) =>
        "settings:\n  interval: 1h\nvgpus:\n" + string.Concat(vgpus.Select(v =>
            $"  - uuid: {v.Uuid}\n    type: {v.Type}\n    parent: \"{Parent}\"\n    name: vm-{v.Uuid[^2..]}\n"));
}
