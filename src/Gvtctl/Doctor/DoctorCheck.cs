namespace Gvtctl.Doctor;

/// <summary>How one doctor check came out. Skipped: it could not be decided here (say why in Detail).</summary>
public enum CheckStatus { Ok, Warning, Failed, Skipped }

/// <summary>
/// One line of `gvtctl doctor`: what was checked, what was found, and, unless it is fine, the plain
/// fix a person can apply. The CLI renders these as text or JSON; the checks never print.
/// </summary>
public sealed record DoctorCheck(string Id, string Title, CheckStatus Status, string Detail, string? Fix = null);
