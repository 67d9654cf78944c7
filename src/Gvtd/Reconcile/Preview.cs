using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Sysfs;

namespace Gvtd.Reconcile;

/// <summary>
/// What the next pass would do, with the desired state and the read it was planned from
/// (PreviewAddVGpu plans one more vGPU over the same read). State and Observed are null while
/// gvtd has no valid desired state: then there is nothing to plan.
/// </summary>
public sealed record Preview(DesiredStateSnapshot? State, ObservedState? Observed, IReadOnlyList<PlannedAction> VGpus, IReadOnlyList<FunctionAction> Functions)
{
    public static readonly Preview Nothing = new(null, null, [], []);
}
