// TEMPORARY STUB — delete at merge. The real Gvtctl.Doctor.DoctorChecks and DoctorEnvironment come from the
// gvtctl-doctor branch; this only lets the gvtctl-cli branch compile against the agreed signature.
namespace Gvtctl.Doctor;

public sealed record DoctorEnvironment(string SysfsRoot, string ProcRoot);

public static class DoctorChecks
{
    public static IReadOnlyList<DoctorCheck> Run(DoctorEnvironment env) =>
    [
        new("stub.sysfs", "sysfs readable", Directory.Exists(env.SysfsRoot) ? CheckStatus.Ok : CheckStatus.Failed,
            env.SysfsRoot, Directory.Exists(env.SysfsRoot) ? null : "mount sysfs"),
        new("stub.checks", "doctor checks", CheckStatus.Skipped, "the real checks are not merged yet (stub)"),
    ];
}
