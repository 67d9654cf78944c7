namespace Gvtd.Bus;

/// <summary>The public contract's names. Scripts and other programs depend on every one of them.</summary>
public static class BusNames
{
    public const string Service = "org.gvtd.Gvtd1";
    public const string Root = "/org/gvtd/Gvtd1";
    public const string ManagerPath = Root + "/Manager";
    public const string VGpuPrefix = Root + "/vgpu";
    public const string ParentPrefix = Root + "/parent";

    public const string ManagerInterface = "org.gvtd.Gvtd1.Manager";
    public const string VGpuInterface = "org.gvtd.Gvtd1.VGpu";
    public const string ParentInterface = "org.gvtd.Gvtd1.Parent";

    public const string ManageAction = "org.gvtd.Gvtd1.manage";
}

/// <summary>
/// gvtd's own error names (bolt-error.c, bus-common-errors.c). The standard freedesktop ones
/// (AccessDenied, InvalidArgs, Failed) are in <see cref="Interop.BusErrors"/>.
/// </summary>
public static class GvtdErrors
{
    public const string InvalidConfig = "org.gvtd.Gvtd1.Error.InvalidConfig";
    public const string NoSuchVGpu = "org.gvtd.Gvtd1.Error.NoSuchVGpu";
    public const string InUse = "org.gvtd.Gvtd1.Error.InUse";
    public const string NoCapacity = "org.gvtd.Gvtd1.Error.NoCapacity";
    public const string NotOwned = "org.gvtd.Gvtd1.Error.NotOwned";
}
