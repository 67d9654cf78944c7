namespace Gvtd.Tests.Bus;

/// <summary>
/// How long the process-level tests wait for a state before calling it a hang. Never a verdict on
/// speed: a busy 2-core machine may take seconds for what takes milliseconds alone, so the bound is
/// far beyond any wait that ends, and a test that hits it says it hung.
/// </summary>
public static class HangGuard
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
}
