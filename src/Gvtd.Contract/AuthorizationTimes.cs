namespace Gvtd.Contract;

/// <summary>
/// How long each side waits while polkit may be asking a person for a password. gvtd gives up on
/// polkit first, cancels the check and answers; gvtctl waits longer than that, so it always hears
/// gvtd's answer, and gvtd never changes anything after the caller has stopped listening. A call
/// that does not allow interaction never waits for a person: gvtd answers
/// InteractiveAuthorizationRequired at once.
/// </summary>
public static class AuthorizationTimes
{
    /// <summary>The longest gvtd waits for polkit on a call that allows interactive authorisation.</summary>
    public static readonly TimeSpan Interactive = TimeSpan.FromSeconds(80);

    /// <summary>How long gvtctl waits for any reply: the interactive limit plus time for the pass that follows.</summary>
    public static readonly TimeSpan ClientCall = TimeSpan.FromSeconds(100);
}
