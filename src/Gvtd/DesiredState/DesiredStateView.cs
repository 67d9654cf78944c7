namespace Gvtd.DesiredState;

/// <summary>
/// The desired state as one immutable value: the state in force (null before the first valid
/// load), every error of the last load (one per line, "file:line:column: message"; empty when
/// valid), and the files that load read. Readers on any thread take it whole.
/// </summary>
public sealed record DesiredStateView(DesiredStateSnapshot? State, string Error, IReadOnlyList<string> Files)
{
    public static readonly DesiredStateView None = new(null, "", []);
}
