namespace Gvtd.Commands;

/// <summary>The ways a request from outside (D-Bus today) can be refused, each with its own error name.</summary>
public enum CommandError { InvalidArgs, InvalidConfig, NoSuchVGpu, InUse, NoCapacity, NotOwned,
    /// <summary>gvtd cannot know the answer now (a read of the host has not returned): not "nothing there".</summary>
    CannotKnow }

/// <summary>A refused request. The message tells the caller what to do about it.</summary>
public sealed class CommandException(CommandError error, string message) : Exception(message)
{
    public CommandError Error { get; } = error;
}
