using Gvtd.Planning;

namespace Gvtd.Applying;

/// <summary>What happened to one planned SR-IOV change (Created: VFs enabled or bound; Removed: disabled).</summary>
public sealed record FunctionOutcome(FunctionAction Action, OutcomeKind Kind, string? Error = null)
{
    public bool Succeeded => Kind is OutcomeKind.Created or OutcomeKind.Removed;
}
