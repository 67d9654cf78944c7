using Gvtd.Planning;

namespace Gvtd.Applying;

public enum OutcomeKind { Created, Removed, Failed, TimedOut, Pending }

/// <summary>What happened to one planned change. Error is a plain sentence, never an exception dump.</summary>
public sealed record ApplyOutcome(PlannedAction Action, OutcomeKind Kind, string? Error = null)
{
    public bool Succeeded => Kind is OutcomeKind.Created or OutcomeKind.Removed;
}
