namespace Gvtd.DesiredState;

/// <summary>Where a declaration came from, for error messages and for the D-Bus Source property.</summary>
public sealed record SourceLocation(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>One vGPU the user wants to exist. Uuid and Parent are normalised.</summary>
public sealed record DesiredVGpu(string Uuid, string Type, string Parent, string? Name, SourceLocation Source);
