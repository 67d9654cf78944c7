using System.Text;
using System.Text.Json;

namespace Gvtctl;

/// <summary>Exit codes; gvtctl(1) documents them.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;      // a call failed or was refused, doctor found a failure
    public const int Usage = 2;        // bad command line
    public const int NotRunning = 3;   // no bus, or gvtd not on it
    public const int NotAllActive = 4; // status: something declared is not active, or the config is invalid
}
