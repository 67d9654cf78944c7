// The gvtd Cockpit page in a real browser: Debian's Chromium driven by playwright-core, against
// Cockpit's own cockpit-ws and cockpit-bridge on a private system bus with gvtd's shipped policy,
// and gvtd --simulate on it. Checks what a person would see and do, saves a screenshot of each
// step, and fails on any JavaScript error or failed request of the page.
//   node tests/browser/page.test.mjs OUTDIR      (tests/browser/run installs and builds first)
import { chromium } from "playwright-core";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(new URL("../..", import.meta.url).pathname);
const out = resolve(process.argv[2] ?? join(repo, "artifacts", "browser"));
mkdirSync(out, { recursive: true });
const gvtdDll = join(repo, "src/Gvtd/bin/Release/net10.0/gvtd.dll");
const gvtctlDll = join(repo, "src/Gvtctl/bin/Release/net10.0/gvtctl.dll");
const dist = join(repo, "cockpit/dist");

// ---- one line per check, as every tier prints them --------------------------------------------
let passed = 0, failed = 0;
const results = [];
async function check(name, body) {
    try {
        await body();
        passed++;
        results.push(`PASS ${name}`);
        console.log(`PASS ${name}`);
    } catch (e) {
        failed++;
        results.push(`FAIL ${name}: ${e.message.split("\n")[0]}`);
        console.log(`FAIL ${name}: ${e.stack ?? e}`);
    }
}
const assert = (ok, why) => { if (!ok) throw new Error(why); };

// ---- the host: a private system bus, gvtd on it, two cockpit-ws (root and nobody) --------------
const dir = mkdtempSync(join(tmpdir(), "gvtd-browser-"));
chmodSync(dir, 0o755);
const socket = join(dir, "bus.sock");
const busEnv = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${socket}` };
delete busEnv.DBUS_SESSION_BUS_ADDRESS;
const children = [];
const start = (cmd, args, opts = {}) => {
    const child = spawn(cmd, args, { env: busEnv, stdio: ["ignore", "pipe", "pipe"], ...opts });
    const log = [];
    child.stdout.on("data", d => log.push(d)); child.stderr.on("data", d => log.push(d));
    child.log = () => Buffer.concat(log).toString();
    children.push(child);
    return child;
};
const sleep = ms => new Promise(r => setTimeout(r, ms));
// Every wait here is for a state, never a verdict on speed: the bound only stops a hung run, and is
// wide enough that a loaded machine (Chromium, cockpit-ws, gvtd and the bus on two busy cores)
// cannot reach it. How fast the page follows gvtd is not this tier's question.
const HANG_GUARD_MS = 90000;
async function until(what, condition, ms = HANG_GUARD_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
        try { if (await condition()) return; } catch { /* not yet */ }
        if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000}s waiting until ${what}`);
        await sleep(100);
    }
}
const quiet = { env: busEnv, stdio: ["ignore", "pipe", "ignore"] };
const busctl = (...args) => execFileSync("busctl", ["--json=short", ...args], quiet).toString();
const gvtctl = (...args) => execFileSync("dotnet", [gvtctlDll, "--bus", "system", ...args], quiet).toString().trim();

writeFileSync(join(dir, "bus.conf"), readFileSync(join(repo, "tests/system-bus.conf.in"), "utf8")
    .replaceAll("@SOCKET@", socket).replaceAll("@POLICY@", join(repo, "packaging/dbus/org.gvtd.Gvtd1.conf")));
start("dbus-daemon", [`--config-file=${join(dir, "bus.conf")}`, "--nofork", "--nopidfile"]);
await until("the private bus is up", () => existsSync(socket));

mkdirSync(join(dir, "etc"));
cpSync(join(repo, "config/vgpus.yaml"), join(dir, "etc/vgpus.yaml"));
const declared = [...readFileSync(join(dir, "etc/vgpus.yaml"), "utf8").matchAll(/^\s*- uuid: ([0-9a-f-]{36})/gm)].map(m => m[1]);
let gvtd = null;
async function startGvtd(extra = [], config = join(dir, "etc/vgpus.yaml")) {
    gvtd = start("dotnet", [gvtdDll, "--simulate", "--bus", "system", "--config", config, "--state-dir", join(dir, "state"),
        "--runtime-dir", join(dir, "run"), ...extra]);
    await until("gvtd has made its first pass", () => JSON.parse(busctl("get-property", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager",
        "org.gvtd.Gvtd1.Manager", "LastReconcile")).data > 0);
}
async function stopGvtd() {
    const exited = new Promise(r => gvtd.once("exit", r));
    gvtd.kill("SIGTERM");
    await exited;
}
await startGvtd();

// The page as Cockpit serves an installed package: XDG_DATA_HOME/cockpit/gvtd, readable by nobody too.
mkdirSync(join(dir, "data/cockpit"), { recursive: true });
cpSync(dist, join(dir, "data/cockpit/gvtd"), { recursive: true });
execFileSync("chmod", ["-R", "a+rX", join(dir, "data")]);
const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
// The bridge wants a session bus too; without one it autolaunches a dbus-daemon that outlives the
// test. Each session gets one of ours, stopped with the rest.
async function sessionBus(who, nobody) {
    const home = join(dir, who);
    mkdirSync(home);
    if (nobody) execFileSync("chown", ["65534:65534", home]);
    const path = join(home, "session.sock");
    const daemon = ["dbus-daemon", "--session", "--nofork", "--nopidfile", `--address=unix:path=${path}`];
    nobody ? start(asNobody[0], [...asNobody.slice(1), ...daemon]) : start(daemon[0], daemon.slice(1));
    await until(`${who}'s session bus is up`, () => existsSync(path));
    return { home, address: `unix:path=${path}` };
}
const ws = async (port, nobody) => {
    const session = await sessionBus(nobody ? "nobody" : "admin", nobody);
    const args = ["--port", String(port), "--address", "127.0.0.1", "--local-session=/usr/bin/cockpit-bridge"];
    const env = { ...busEnv, XDG_DATA_HOME: join(dir, "data"), HOME: session.home, DBUS_SESSION_BUS_ADDRESS: session.address };
    return nobody
        ? start(asNobody[0], [...asNobody.slice(1), "/usr/lib/cockpit/cockpit-ws", ...args], { env })
        : start("/usr/lib/cockpit/cockpit-ws", args, { env });
};
const adminPort = 9190 + Math.floor(Math.random() * 400), userPort = adminPort + 1;
await ws(adminPort, false);
await ws(userPort, true);
const pageUrl = port => `http://127.0.0.1:${port}/cockpit/@localhost/gvtd/index.html`;
await until("cockpit-ws serves the page", async () => (await fetch(pageUrl(adminPort))).ok && (await fetch(pageUrl(userPort))).ok);

// ---- the browser -------------------------------------------------------------------------------
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
const problems = [];
async function open(port, who) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    context.setDefaultTimeout(HANG_GUARD_MS);
    const page = await context.newPage();
    page.on("console", m => { if (m.type() === "error") problems.push(`${who}: console: ${m.text()}`); });
    page.on("pageerror", e => problems.push(`${who}: ${e.message}`));
    page.on("requestfailed", r => { if (!r.url().includes("/cockpit/socket")) problems.push(`${who}: request failed: ${r.url()} ${r.failure()?.errorText}`); });
    await page.goto(pageUrl(port));
    return page;
}
let shot = 0;
const screenshot = (page, name) => page.screenshot({ path: join(out, `${String(++shot).padStart(2, "0")}-${name}.png`), fullPage: true });
const row = (page, uuid) => page.locator(`tbody.vgpu[data-uuid="${uuid}"]`);

const admin = await open(adminPort, "admin");

await check("page-shows-gvtd-state-vgpus-and-capacity", async () => {
    await admin.locator("#status-text").waitFor();
    const manager = p => JSON.parse(busctl("get-property", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", p)).data;
    await until("the status line is gvtd's", async () => (await admin.locator("#status-text").innerText()) === manager("StatusText"));
    for (const uuid of declared) {
        await row(admin, uuid).waitFor();
        const state = await row(admin, uuid).locator(".state").innerText();
        const own = JSON.parse(busctl("get-property", "org.gvtd.Gvtd1", `/org/gvtd/Gvtd1/vgpu/${encode(uuid)}`, "org.gvtd.Gvtd1.VGpu", "State")).data;
        assert(state === own, `${uuid} shows '${state}', gvtd says '${own}'`);
    }
    // Every type's "can still be created" is the parent's available_instances as gvtd reports it.
    const types = JSON.parse(busctl("get-property", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/parent/_30000_3a00_3a02_2e0", "org.gvtd.Gvtd1.Parent", "Types")).data;
    const shown = await admin.locator("#parents tbody tr").evaluateAll(rows => rows.map(r => [r.cells[0].innerText, r.cells[2].innerText]));
    assert(JSON.stringify(shown) === JSON.stringify(types.map(t => [t[0], String(t[4])])), `capacity shown ${JSON.stringify(shown)}, gvtd says ${JSON.stringify(types)}`);
    assert(await admin.locator(".shared-pool").isVisible(), "the shared GVT-g pool is not explained");
    await screenshot(admin, "overview");
});

await check("changes-made-with-gvtctl-appear-without-a-reload", async () => {
    await admin.evaluate(() => { window.gvtdTestMarker = "no reload"; });
    const made = gvtctl("add", "i915-GVTg_V5_8");
    await row(admin, made).waitFor();
    await until("the new vGPU is active on the page", async () => (await row(admin, made).locator(".state").innerText()) === "active");
    assert(await row(admin, made).locator(".declared").innerText() === "over D-Bus", "a gvtctl add does not show as declared over D-Bus");
    await screenshot(admin, "added-with-gvtctl");
    gvtctl("remove", made);
    await row(admin, made).waitFor({ state: "detached" });
    assert(await admin.evaluate(() => window.gvtdTestMarker) === "no reload", "the page was reloaded");
});

await check("an-administrator-adds-a-vgpu-through-the-page", async () => {
    await admin.locator("#add").click();
    await admin.locator("#add-dialog").waitFor();
    await admin.locator("#add-type").selectOption("i915-GVTg_V5_8");
    await until("gvtd's plan of the add is shown", async () => (await admin.locator("#add-preview").innerText()).includes("create it"));
    const uuid = await admin.locator("#add-uuid").inputValue();
    await screenshot(admin, "add-dialog");
    await admin.locator("#add-confirm").click();
    await row(admin, uuid).waitFor();
    await until("the added vGPU is active", async () => (await row(admin, uuid).locator(".state").innerText()) === "active");
    const dropIn = join(dir, "etc/vgpus.d/dbus.yaml");
    assert(existsSync(dropIn) && readFileSync(dropIn, "utf8").includes(uuid), `the drop-in ${dropIn} does not declare ${uuid}`);
    assert(existsSync(join(dir, "run/simulated-sysfs/bus/mdev/devices", uuid)), `${uuid} does not exist in the (simulated) kernel`);
    await screenshot(admin, "added-through-the-page");
    // A vGPU declared in the user's own file says which file to edit instead of offering Remove.
    assert((await row(admin, declared[0]).locator(".declared").innerText()).startsWith(join(dir, "etc/vgpus.yaml") + ":"), "a file's vGPU does not say which file declares it");
    assert((await row(admin, declared[0]).locator(".edit-file").innerText()).includes("edit that file"), "a file's vGPU does not say to edit its file");
    assert(await row(admin, declared[0]).locator(".remove").count() === 0, "a file's vGPU offers Remove");
    await row(admin, uuid).locator(".remove").click();
    await row(admin, uuid).waitFor({ state: "detached" });
});

await check("the-plan-and-reconcile-now-answer-as-gvtd-does", async () => {
    await admin.locator("#plan").click();
    await admin.locator("#plan-dialog tbody tr").first().waitFor();
    const plan = JSON.parse(busctl("call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "Plan")).data[0];
    const shown = await admin.locator("#plan-dialog tbody tr").evaluateAll(rows => rows.map(r => [r.cells[0].innerText, r.cells[2].innerText]));
    assert(JSON.stringify(shown) === JSON.stringify(plan.map(r => [r[0], r[4]])), `the plan shown ${JSON.stringify(shown)} is not gvtd's ${JSON.stringify(plan)}`);
    await screenshot(admin, "plan");
    await admin.locator("#plan-dialog").getByRole("button", { name: "Close" }).first().click();
    await admin.locator("#reconcile").click();
    await until("the pass's counts are shown", async () => (await admin.locator("#notice").innerText()).includes("Created 0, removed 0, failed 0."));
});

await check("a-user-without-administrative-access-is-refused-and-nothing-changes", async () => {
    const user = await open(userPort, "nobody");
    await row(user, declared[0]).waitFor();
    const who = await user.evaluate(() => new Promise((ok, no) => window.cockpit.spawn(["id", "-u"]).then(ok, no)));
    assert(who.trim() === "65534", `the second session runs as uid ${who.trim()}, not nobody`);
    await user.locator("#read-only").waitFor();
    assert(await user.locator("#add").isDisabled() && await user.locator("#reconcile").isDisabled(), "the actions are offered to a user without administrative access");
    const before = busctl("call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "ListVGpus");
    // Past the page's own guard, gvtd refuses too, and the page says so in words.
    const refused = await user.evaluate(() => new Promise(done =>
        window.cockpit.dbus("org.gvtd.Gvtd1", { bus: "system" }).call("/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "AddVGpu",
            ["", "i915-GVTg_V5_8", "0000:00:02.0", false]).then(() => done("allowed"), e => done(e.name))));
    assert(refused === "org.freedesktop.DBus.Error.AccessDenied", `AddVGpu as nobody answered ${refused}`);
    assert(busctl("call", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "ListVGpus") === before, "something changed");
    await screenshot(user, "read-only");
    await user.context().close();
});

await check("a-broken-file-is-shown-where-it-is-broken", async () => {
    const file = join(dir, "etc/vgpus.yaml"), good = readFileSync(file, "utf8");
    writeFileSync(file + ".new", good.replace("interval: 5m", "interval: 90"));
    execFileSync("mv", [file + ".new", file]);
    const error = () => JSON.parse(busctl("get-property", "org.gvtd.Gvtd1", "/org/gvtd/Gvtd1/Manager", "org.gvtd.Gvtd1.Manager", "ConfigError")).data;
    await until("gvtd has refused the file", () => error().startsWith(`${file}:`));
    await admin.locator("#config-error").waitFor();
    const shown = await admin.locator("#config-error pre").innerText();
    assert(shown.trim() === error().trim(), `the page shows '${shown}', gvtd says '${error()}'`);
    await screenshot(admin, "config-error");
    writeFileSync(file + ".new", good);
    execFileSync("mv", [file + ".new", file]);
    await admin.locator("#config-error").waitFor({ state: "detached" });
});

await check("the-page-says-when-gvtd-stops-and-recovers-when-it-is-back", async () => {
    await stopGvtd();
    await admin.locator("#not-running").waitFor();
    assert((await admin.locator("#not-running").innerText()).includes("systemctl enable --now gvtd"), "no word on what to do");
    await screenshot(admin, "gvtd-stopped");
    await startGvtd();
    await row(admin, declared[0]).waitFor();
    assert(!(await admin.locator("#not-running").isVisible()), "the page still says gvtd is not running");
    await screenshot(admin, "gvtd-back");
});

await check("sriov-functions-show-with-their-vfs", async () => {
    await stopGvtd();
    const sriov = join(dir, "etc/sriov.yaml");
    writeFileSync(sriov, 'sriov:\n  - pf: "0000:00:02.0"\n    vfs: 2\n');
    await startGvtd(["--simulate=gen12"], sriov);
    const pf = admin.locator('tbody.pf[data-address="0000:00:02.0"]');
    await pf.waitFor();
    await until("both VFs are listed", async () => (await pf.locator("tr.vf").count()) === 2);
    assert(await pf.locator("tr.vf .vf-state").first().innerText() === "bound", "the first VF is not shown bound");
    const qemu = await pf.locator("tr.vf").first().locator("input").inputValue();
    assert(qemu === "-device vfio-pci,host=0000:00:02.1", `the first VF's QEMU argument reads '${qemu}'`);
    await screenshot(admin, "sriov");
});

await check("no-javascript-errors", async () => assert(problems.length === 0, problems.join("; ")));

await browser.close();
for (const child of children.reverse()) child.kill("SIGTERM");
writeFileSync(join(out, "results.txt"), results.join("\n") + "\n");
console.log(`browser: ${passed} passed, ${failed} failed (screenshots in ${out})`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);

/** sd_bus_path_encode, as gvtd names its objects. */
function encode(text) {
    return [...Buffer.from(text)].map((b, i) => (/[A-Za-z]/.test(String.fromCharCode(b)) || (i > 0 && /[0-9]/.test(String.fromCharCode(b))))
        ? String.fromCharCode(b) : "_" + b.toString(16).padStart(2, "0")).join("");
}
