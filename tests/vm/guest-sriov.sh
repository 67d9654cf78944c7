#!/bin/bash
# Runs inside the SR-IOV test VM: q35 with an emulated VT-d and two NVMe controllers that offer
# SR-IOV VFs (tests/vm/run: 0000:00:06.0 with 4, 0000:00:07.0 with 2), chrooted into the host's root
# as guest.sh is. The nvme driver is not loaded at boot: the first scenario loads it after gvtd has
# started, as a GPU driver that loads late would. The kernel's PCI SR-IOV core is the same for a
# GPU as for this NVMe; what is GPU-specific is tested on sysfs trees in the unit tier.
#   guest-sriov.sh RESULTS      (RESULTS/guest.env names GVTD, GVTCTL, HOLD, REPO and NVME_KO)
set -euo pipefail
RESULTS=$1
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck source=/dev/null
. "$RESULTS/guest.env"

PCI=/sys/bus/pci/devices
PF=0000:00:06.0        # declared by the scenarios
OTHER=0000:00:07.0     # never declared: gvtd must not touch it

# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/vm/lib-by-hand.sh
. "$(dirname "$0")/lib-by-hand.sh"

# write_sriov_config [VFS]: PF declared with VFS VFs, or (no argument) nothing declared.
write_sriov_config() {
    {
        printf 'settings:\n  interval: 10m\n  prune: owned\nvgpus: []\n'
        [ $# -eq 0 ] || printf 'sriov:\n  - pf: "%s"\n    vfs: %s\n' "$PF" "$1"
    } > "$CFG.new"
    mv "$CFG.new" "$CFG"
}

# The VFs from the virtfnN links, never from sriov_numvfs: reading that blocks while a disable waits.
vfs_of() { local l; for l in "$PCI/$1"/virtfn*; do [ -e "$l" ] && basename "$(readlink "$l")"; done; return 0; }
vf_count() { vfs_of "$1" | wc -l; }
driver_of() { local d; d=$(readlink "$PCI/$1/driver" 2>/dev/null) && basename "$d" || echo none; }
# vfs_bound PF N: exactly N VFs, each on vfio-pci.
vfs_bound() {
    [ "$(vf_count "$1")" -eq "$2" ] || return 1
    local vf
    for vf in $(vfs_of "$1"); do [ "$(driver_of "$vf")" = vfio-pci ] || return 1; done
}

functions_list() { busctl --json=short call "${MANAGER[@]}" ListFunctions | jq -c '.data[0][]'; }
function_plan() { busctl --json=short call "${MANAGER[@]}" PlanFunctions | jq -c '.data[0][]'; }
plan_of() { function_plan | jq -r --arg a "$1" 'select(.[1] == $a) | .[0] + ": " + .[2]'; }
pf_prop() {
    local path
    path=$(functions_list | jq -r --arg a "$1" 'select(.[0] == $a and .[1] == "") | .[6]')
    [ -n "$path" ] || { echo "(no object)"; return 0; }
    busctl --json=short get-property org.gvtd.Gvtd1 "$path" org.gvtd.Gvtd1.PhysicalFunction "$2" | jq -r .data
}
awaited() { manager_prop AwaitedParents | jq -r '.[]'; }

# ---- scenarios --------------------------------------------------------------------------------

# gvtd starts before the PF's driver: it waits (the kernel cannot change a count without one), and
# the driver's bind uevent is what makes it act.
sriov_pf_driver_bound_late() {
    [ -e "$PCI/$PF/sriov_totalvfs" ] || fail "no SR-IOV PF at $PF: $(ls "$PCI" | tr '\n' ' ')"
    [ "$(driver_of "$PF")" = none ] || fail "$PF already has a driver: $(driver_of "$PF")"
    write_sriov_config 2
    start_gvtd
    wait_until "gvtd awaits $PF" eval 'awaited | grep -qx "$PF"'
    [ "$(vf_count "$PF")" -eq 0 ] || fail "VFs exist before the PF has a driver"
    echo "waiting: $(pf_prop "$PF" LastError)"
    insmod "$NVME_KO"
    local start took
    start=$(now_ms)
    wait_until "$PF has a driver" eval '[ "$(driver_of "$PF")" = nvme ]'
    wait_until "2 VFs of $PF on vfio-pci" vfs_bound "$PF" 2
    took=$(( $(now_ms) - start ))
    figure "real kernel (TCG): nvme loaded -> 2 VFs on vfio-pci: $took ms (target <= 2 s as for mdev parents)"
    if awaited | grep -qx "$PF"; then fail "$PF is still awaited"; fi
    if log_since 0 | grep -q "Pass (interval)"; then fail "an interval pass ran: the clock, not the bind uevent, did this"; fi
}

sriov_vfs_enabled_and_bound() {
    ensure_gvtd
    wait_until "2 VFs on vfio-pci" vfs_bound "$PF" 2
    [ "$(cat "$PCI/$PF/sriov_drivers_autoprobe")" = 0 ] || fail "sriov_drivers_autoprobe is still on"
    local vf group
    for vf in $(vfs_of "$PF"); do
        group=$(basename "$(readlink "$PCI/$vf/iommu_group")")
        [ -c "/dev/vfio/$group" ] || fail "VF $vf is on vfio-pci but /dev/vfio/$group does not exist"
        [ "$(cat "$PCI/$vf/driver_override")" = vfio-pci ] || fail "VF $vf's driver_override is $(cat "$PCI/$vf/driver_override")"
    done
    [ "$(driver_of "$PF")" = nvme ] || fail "the PF's own driver changed to $(driver_of "$PF")"
    ledger | grep -qx "sriov $PF" || fail "the ledger lacks 'sriov $PF': $(ledger | tr '\n' ' ')"
    [ "$(pf_prop "$PF" State)" = active ] || fail "PF State is $(pf_prop "$PF" State): $(pf_prop "$PF" LastError)"
    [ "$(pf_prop "$PF" NumVfs)" = 2 ] || fail "PF NumVfs is $(pf_prop "$PF" NumVfs)"
    vf=$(vfs_of "$PF" | head -n1)
    [ "$("$GVTCTL" --bus system qemu-args "$vf")" = "-device vfio-pci,host=$vf" ] \
        || fail "gvtctl qemu-args $vf said '$("$GVTCTL" --bus system qemu-args "$vf")'"
    "$GVTCTL" --bus system list
}

# A VM (vfio-hold, as QEMU does: group and device fd) holds one VF; the declared count changes. The
# kernel changes a count only through 0, which would remove the held VF and block unkillably, so
# gvtd must wait, keep answering, and apply the change once the VM lets go.
sriov_count_change_waits_for_held_vf() {
    ensure_gvtd
    wait_until "2 VFs on vfio-pci" vfs_bound "$PF" 2
    local vf start
    vf=$(vfs_of "$PF" | tail -n1)
    start_holder "$vf"
    write_sriov_config 3
    wait_until "the plan shows the change blocked by the VM" eval 'plan_of "$PF" | grep -q "^blocked: .*VF $vf is in use by a VM"'
    echo "plan while held: $(plan_of "$PF")"
    # Plan is worked out on the spot; a pass that began after the change must have ended too.
    reconcile > /dev/null
    [ "$(vf_count "$PF")" -eq 2 ] || fail "the count changed while a VM held $vf"
    [ "$(driver_of "$vf")" = vfio-pci ] || fail "$vf lost its driver while held"
    holder_running || fail "the holder was ended"
    [ "$(pf_prop "$PF" InUse)" = true ] || fail "PF InUse is not true while a VF is held"
    answers_while "while the count change waits for the VM"
    stop_holder
    start=$(now_ms)
    wait_until "3 VFs on vfio-pci once the VM let go" vfs_bound "$PF" 3
    figure "real kernel (TCG): VM let go of a VF -> 3 VFs on vfio-pci: $(( $(now_ms) - start )) ms"
    log_since 0 | grep -E "Disabled the 2 VF|Enabled 3 VF" || fail "the log does not show the change through 0"
}

sriov_vfs_zeroed_by_hand_come_back() {
    ensure_gvtd
    wait_until "3 VFs on vfio-pci" vfs_bound "$PF" 3
    local start
    echo 0 > "$PCI/$PF/sriov_numvfs"
    [ "$(vf_count "$PF")" -eq 0 ] || fail "echo 0 left $(vf_count "$PF") VFs"
    start=$(now_ms)
    wait_until "the 3 VFs are back, on vfio-pci" vfs_bound "$PF" 3
    figure "real kernel (TCG): VFs set to 0 by hand -> back on vfio-pci: $(( $(now_ms) - start )) ms"
}

# VFs someone else enabled on a PF nobody declared: gvtd lists them, and writes nothing there.
sriov_undeclared_pf_untouched() {
    ensure_gvtd
    [ "$(driver_of "$OTHER")" = nvme ] || fail "$OTHER is not on nvme"
    echo 1 > "$PCI/$OTHER/sriov_numvfs"
    local vf before after mark
    vf=$(vfs_of "$OTHER")
    wait_until "the VF by hand has settled" eval '[ "$(driver_of "$vf")" = none ]'
    before="$(vf_count "$OTHER") $(cat "$PCI/$OTHER/sriov_drivers_autoprobe") $(cat "$PCI/$vf/driver_override") $(driver_of "$vf")"
    mark=$(log_size)
    reconcile > /dev/null
    signal_gvtd HUP
    # Once gvtd logged the SIGHUP its reload pass is queued; the Reconcile call returns once that
    # pass, or a later one, has ended.
    wait_until "gvtd logged the SIGHUP" eval 'log_since "$mark" | grep -q SIGHUP'
    reconcile > /dev/null
    after="$(vf_count "$OTHER") $(cat "$PCI/$OTHER/sriov_drivers_autoprobe") $(cat "$PCI/$vf/driver_override") $(driver_of "$vf")"
    [ "$before" = "$after" ] || fail "the undeclared PF changed: '$before' -> '$after'"
    # An NVMe controller nobody declared is not gvtd's business (only display controllers are, and
    # only with prune: all): the plan says so, and gvtd publishes no object for it.
    [[ $(plan_of "$OTHER") == ignore:*"not a display controller"* ]] || fail "the plan for $OTHER is '$(plan_of "$OTHER")', want ignore, as not a display controller"
    [ "$(pf_prop "$OTHER" State)" = "(no object)" ] || fail "gvtd publishes $OTHER (State $(pf_prop "$OTHER" State)), a PF it was not asked about"
    if log_since "$mark" | grep -E "(Enabled|Disabled|Bound|Provisioned).*$OTHER|$OTHER.*(Enabled|Disabled|Bound)"; then
        fail "gvtd wrote to $OTHER"
    fi
    echo 0 > "$PCI/$OTHER/sriov_numvfs"
}

# The VFs gvtd enabled go once their PF is no longer declared (prune: owned), and the ledger forgets it.
sriov_undeclared_owned_pf_disabled() {
    ensure_gvtd
    wait_until "3 VFs on vfio-pci" vfs_bound "$PF" 3
    write_sriov_config
    wait_until "the VFs gvtd enabled are disabled" eval '[ "$(vf_count "$PF")" -eq 0 ]'
    wait_until "the ledger forgets $PF" eval '! ledger | grep -qx "sriov $PF"'
    [ "$(driver_of "$PF")" = nvme ] || fail "the PF's own driver changed to $(driver_of "$PF")"
}

main() {
    mkdir -p "$WORK/etc" "$STATE"
    : > "$RESULTS/results.txt"
    : > "$GVTD_LOG"
    local pfs=() f
    for f in "$PCI"/*/sriov_totalvfs; do [ -e "$f" ] && pfs+=("$(basename "$(dirname "$f")")"); done
    log "guest: kernel $(uname -r), SR-IOV PFs: ${pfs[*]}" >> "$RESULTS/guest.log"
    start_bus >> "$RESULTS/guest.log" 2>&1 || { echo "FAIL dbus: cannot start dbus-daemon" >> "$RESULTS/results.txt"; exit 1; }

    run_scenario sriov-pf-driver-bound-late sriov_pf_driver_bound_late
    run_scenario sriov-vfs-enabled-and-bound sriov_vfs_enabled_and_bound
    run_scenario sriov-count-change-waits-for-held-vf sriov_count_change_waits_for_held_vf
    run_scenario sriov-vfs-zeroed-by-hand-come-back sriov_vfs_zeroed_by_hand_come_back
    run_scenario sriov-undeclared-pf-untouched sriov_undeclared_pf_untouched
    run_scenario sriov-undeclared-owned-pf-disabled sriov_undeclared_owned_pf_disabled

    gvtd_running && signal_gvtd TERM
    touch "$RESULTS/done"
}

main
