using Gvtd.DesiredState;
using Gvtd.Planning;
using Gvtd.Sysfs;

namespace Gvtd.Reconcile;

/// <summary>The counts a pass reports (Reconcile() and the ReconcileFinished signal).</summary>
public sealed record PassResult(int Created, int Removed, int Failed, string ConfigError);
