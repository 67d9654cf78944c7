namespace Gvtd.Contract;

/// <summary>The public contract's names. Scripts and other programs depend on every one of them.</summary>
public static class BusNames
{
    public const string Service = "org.gvtd.Gvtd1";
    public const string Root = "/org/gvtd/Gvtd1";
    public const string ManagerPath = Root + "/Manager";
    public const string VGpuPrefix = Root + "/vgpu";
    public const string ParentPrefix = Root + "/parent";
    public const string PhysicalFunctionPrefix = Root + "/pf";
    public const string VirtualFunctionPrefix = Root + "/vf";

    public const string ManagerInterface = "org.gvtd.Gvtd1.Manager";
    public const string VGpuInterface = "org.gvtd.Gvtd1.VGpu";
    public const string ParentInterface = "org.gvtd.Gvtd1.Parent";
    public const string PhysicalFunctionInterface = "org.gvtd.Gvtd1.PhysicalFunction";
    public const string VirtualFunctionInterface = "org.gvtd.Gvtd1.VirtualFunction";

    public const string ManageAction = "org.gvtd.Gvtd1.manage";

    /// <summary>The standard interfaces every object answers on.</summary>
    public const string Properties = "org.freedesktop.DBus.Properties";
    public const string ObjectManager = "org.freedesktop.DBus.ObjectManager";
    public const string Introspectable = "org.freedesktop.DBus.Introspectable";
    public const string Peer = "org.freedesktop.DBus.Peer";
}
