// Everything the page knows comes from gvtd's D-Bus interface (org.gvtd.Gvtd1 on the system bus),
// through Cockpit's bridge. The page keeps no state of its own: whenever gvtd says something
// changed (PropertiesChanged, InterfacesAdded/Removed) or its name changes owner, it reads the
// whole picture again with the ObjectManager's GetManagedObjects. No polling.
const cockpit = window.cockpit;

export const NAME = "org.gvtd.Gvtd1";
export const ROOT = "/org/gvtd/Gvtd1";
export const MANAGER = "/org/gvtd/Gvtd1/Manager";
const IFACE = {
    manager: "org.gvtd.Gvtd1.Manager",
    vgpu: "org.gvtd.Gvtd1.VGpu",
    parent: "org.gvtd.Gvtd1.Parent",
    pf: "org.gvtd.Gvtd1.PhysicalFunction",
    vf: "org.gvtd.Gvtd1.VirtualFunction",
};

/** The picture before anything was read: not known to be running or not. */
export const UNKNOWN = { running: null, manager: null, vgpus: [], parents: [], pfs: [], vfs: [], error: null };

const unwrap = props => Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v && typeof v === "object" && "v" in v ? v.v : v]));

function picture(objects) {
    const of = name => Object.entries(objects).filter(([, ifaces]) => ifaces[name]).map(([path, ifaces]) => ({ path, ...unwrap(ifaces[name]) }));
    const manager = of(IFACE.manager)[0] ?? null;
    const parents = of(IFACE.parent).map(p => ({
        ...p, Types: (p.Types ?? []).map(([id, name, deviceApi, description, available]) => ({ id, name, deviceApi, description, available })),
    }));
    const byKey = (key) => (a, b) => a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0;
    return {
        running: true,
        manager,
        vgpus: of(IFACE.vgpu).sort(byKey("Uuid")),
        parents: parents.sort(byKey("Name")),
        pfs: of(IFACE.pf).sort(byKey("Address")),
        vfs: of(IFACE.vf).sort(byKey("Address")),
        error: null,
    };
}

/**
 * Follows gvtd: calls onUpdate with a new picture on every change, { running: false } while its
 * name has no owner. Returns a function that stops following.
 */
export function follow(onUpdate) {
    const bus = cockpit.dbus("org.freedesktop.DBus", { bus: "system" });
    const gvtd = cockpit.dbus(NAME, { bus: "system", superuser: "try" });
    let timer = null, stopped = false, generation = 0;

    const refresh = () => {
        if (stopped) return;
        const mine = ++generation;
        bus.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", [NAME])
            .then(([owned]) => {
                if (!owned) return { ...UNKNOWN, running: false };
                return gvtd.call(ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", [])
                    .then(([objects]) => picture(objects));
            })
            .then(p => { if (mine === generation && !stopped) onUpdate(p); })
            .catch(e => {
                if (mine !== generation || stopped) return;
                // gvtd went away between the two calls, or the bus refused: say what is known.
                onUpdate({ ...UNKNOWN, running: e?.name === "org.freedesktop.DBus.Error.ServiceUnknown" ? false : null, error: e?.message ?? String(e) });
            });
    };
    // A pass sends a burst of signals; one read after the burst is enough.
    const soon = () => { clearTimeout(timer); timer = setTimeout(refresh, 50); };

    const subscriptions = [
        bus.subscribe({ interface: "org.freedesktop.DBus", member: "NameOwnerChanged" }, (path, iface, signal, [name]) => { if (name === NAME) soon(); }),
        gvtd.subscribe({ path_namespace: ROOT, interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged" }, soon),
        gvtd.subscribe({ path: ROOT, interface: "org.freedesktop.DBus.ObjectManager" }, soon),
    ];
    refresh();
    return () => {
        stopped = true;
        clearTimeout(timer);
        subscriptions.forEach(s => s.remove());
        gvtd.close();
        bus.close();
    };
}

/** A Manager method; the promise rejects with gvtd's own error (name and message). */
export function call(method, signature, args) {
    const gvtd = cockpit.dbus(NAME, { bus: "system", superuser: "try" });
    return gvtd.call(MANAGER, IFACE.manager, method, args, { type: signature, timeout: 100000 })
        .finally(() => gvtd.close());
}

/** What a refused call means, in words a person can act on. */
export function explain(error) {
    const name = error?.name ?? "";
    if (name === "org.freedesktop.DBus.Error.AccessDenied" || name === "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired")
        return "Not permitted: changing vGPUs needs administrative access (root, or polkit's org.gvtd.Gvtd1.manage). " + (error.message ?? "");
    if (name === "org.freedesktop.DBus.Error.ServiceUnknown")
        return "gvtd is not running.";
    return error?.message ?? String(error);
}

/** Declared over D-Bus (gvtd's own drop-in), so the page may remove it; otherwise the file to edit. */
export function declaredIn(vgpu) {
    const file = (vgpu.Source ?? "").replace(/:\d+$/, "");
    if (!vgpu.Declared) return { kind: "none", file: "" };
    return /\/vgpus\.d\/dbus\.yaml$/.test(file) ? { kind: "dbus", file } : { kind: "file", file: vgpu.Source };
}
