namespace Gvtd.DesiredState;

/// <summary>One thing wrong with the user's files, located precisely enough to fix it.</summary>
public sealed record ConfigError(SourceLocation Where, string Message)
{
    public override string ToString() => $"{Where}: {Message}";
}

/// <summary>Thrown when the desired-state files are invalid; carries every error found, not just the first.</summary>
public sealed class InvalidConfigException(IReadOnlyList<ConfigError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
