using Serilog.Core;
using Serilog.Events;

namespace Gvtd.Logging;

/// <summary>
/// Adds the sd-daemon priority prefix ("&lt;3&gt;" for errors ...) that journald reads from a service's
/// stdout, so `journalctl -p warning -u gvtd` shows warnings and errors only.
/// </summary>
internal sealed class JournalPriorityEnricher : ILogEventEnricher
{
    public const string PropertyName = "JournalPriority";

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        var priority = logEvent.Level switch
        {
            LogEventLevel.Fatal => 2,       // crit
            LogEventLevel.Error => 3,       // err
            LogEventLevel.Warning => 4,     // warning
            LogEventLevel.Information => 6, // info
            _ => 7,                         // debug
        };
        logEvent.AddPropertyIfAbsent(new LogEventProperty(PropertyName, new ScalarValue($"<{priority}>")));
    }
}
