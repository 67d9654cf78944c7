using Serilog;
using Serilog.Events;
using Serilog.Sinks.SystemConsole.Themes;

namespace Gvtd.Logging;

/// <summary>Serilog configured in code (no configuration binding, so it stays NativeAOT-clean).</summary>
internal static class LoggingSetup
{
    public static Serilog.Core.Logger Create()
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Information()
            // The host's own start-up chatter is not what a gvtd user reads the journal for.
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning);

        // systemd sets JOURNAL_STREAM when stdout/stderr go to the journal.
        if (Environment.GetEnvironmentVariable("JOURNAL_STREAM") is { Length: > 0 })
            return configuration
                .Enrich.With<JournalPriorityEnricher>()
                .WriteTo.Console(outputTemplate: "{JournalPriority}{Message:lj}{NewLine}{Exception}", theme: ConsoleTheme.None)
                .CreateLogger();

        return configuration
            .WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss.fff} {Level:u3} {Message:lj}{NewLine}{Exception}",
                standardErrorFromLevel: LogEventLevel.Verbose)
            .CreateLogger();
    }
}
