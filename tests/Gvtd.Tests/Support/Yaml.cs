using Gvtd.DesiredState;

namespace Gvtd.Tests.Support;

/// <summary>Desired-state files laid out as gvtd finds them: etc/vgpus.yaml, etc/vgpus.d/, run/vgpus.d/.</summary>
public static class Yaml
{
    public const string U1 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
    public const string U2 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1002";
    public const string U3 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1003";

    public const string MainFile = "etc/vgpus.yaml";

    public static string VGpu(string uuid, string type, string parent) =>
        $"  - uuid: {uuid}\n    type: {type}\n    parent: \"{parent}\"\n";

    public static DesiredStateLoader Loader(TempDir dir) => new(dir.Combine(MainFile), dir.Combine("run"));

    public static DesiredStateSnapshot Load(TempDir dir, string mainText)
    {
        dir.Write(MainFile, mainText);
        return Loader(dir).Load();
    }

    public static IReadOnlyList<ConfigError> Errors(TempDir dir, string mainText)
    {
        dir.Write(MainFile, mainText);
        return Assert.Throws<InvalidConfigException>(() => Loader(dir).Load()).Errors;
    }

    /// <summary>Asserts one error, at the (1-based) position of <paramref name="at"/> in the text, saying <paramref name="says"/>.</summary>
    public static ConfigError AssertSingleError(TempDir dir, string text, string at, string says, int occurrence = 1)
    {
        var error = Assert.Single(Errors(dir, text));
        AssertAt(error, dir.Combine(MainFile), text, at, occurrence);
        Assert.Contains(says, error.Message);
        return error;
    }

    public static void AssertAt(ConfigError error, string file, string text, string at, int occurrence = 1)
    {
        var (line, column) = YamlText.Locate(text, at, occurrence);
        Assert.Equal(file, error.Where.File);
        Assert.Equal((line, column), (error.Where.Line, error.Where.Column));
        Assert.StartsWith($"{file}:{line}:{column}: ", error.ToString());
    }
}
