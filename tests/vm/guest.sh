#!/bin/bash
# Runs inside the test VM, chrooted into the host's root (read-only over 9p), on the VM's real
# kernel with the mtty sample parent loaded. Starts a system-type dbus-daemon and the host's gvtd
# binary, runs the scenarios against /sys/class/mdev_bus/mtty and writes one PASS/FAIL line per
# scenario to RESULTS/results.txt. The host prints them; RESULTS/done says the script got to the end.
#   guest.sh RESULTS      (RESULTS/guest.env names GVTD, HOLD and REPO)
set -euo pipefail
RESULTS=$1
# The initramfs set PATH=/bin; rmmod and insmod live in sbin.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck source=/dev/null
. "$RESULTS/guest.env"

MDEV=/sys/bus/mdev/devices
TYPES=/sys/class/mdev_bus/mtty/mdev_supported_types


# UUIDs the scenarios use. Creates run in UUID order, which scenario 6 relies on.
A=11111111-0000-4000-8000-00000000000a   # declared mtty-1, kept throughout
B=22222222-0000-4000-8000-00000000000b   # declared mtty-2, dropped in scenario 4
H=33333333-0000-4000-8000-0000000000aa   # made by hand
V=44444444-0000-4000-8000-0000000000f7   # held by a VFIO user in scenario 7
S=66666666-0000-4000-8000-000000000066   # held so that its remove blocks in the kernel
W=55555555-0000-4000-8000-000000000055   # declared while gvtd is dead in scenario 8
E=eeeeeeee-0000-4000-8000-00000000000e   # one more than capacity allows in scenario 6
Z=77777777-0000-4000-8000-000000000077   # held by another user's VM while gvtd is blind
Q=88888888-0000-4000-8000-000000000088   # taken by a real QEMU

# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/vm/lib-by-hand.sh
. "$(dirname "$0")/lib-by-hand.sh"

# qemu_has_group N: the QEMU started by real_qemu_holds_device holds /dev/vfio/N open.
qemu_has_group() {
    local fd
    for fd in /proc/"$(cat "$WORK/qemu.pid")"/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "/dev/vfio/$1" ] && return 0
    done
    return 1
}


# ---- scenarios --------------------------------------------------------------------------------

declared_devices_appear() {
    write_config "$A:mtty-1" "$B:mtty-2"
    ensure_gvtd
    wait_until "both declared devices exist" eval "device_exists $A && device_exists $B"
    [ "$(device_type "$A")" = mtty-1 ] || fail "$A has type $(device_type "$A"), want mtty-1"
    [ "$(device_type "$B")" = mtty-2 ] || fail "$B has type $(device_type "$B"), want mtty-2"
    [ "$(device_parent "$A")" = mtty ] || fail "$A is on parent $(device_parent "$A"), want mtty"
    [ "$(device_parent "$B")" = mtty ] || fail "$B is on parent $(device_parent "$B"), want mtty"
    in_ledger "$A" || fail "the ledger lacks $A: $(ledger | tr '\n' ' ')"
    in_ledger "$B" || fail "the ledger lacks $B: $(ledger | tr '\n' ' ')"
    local states
    states=$(list_vgpus | jq -r '.[3]' | sort -u | tr '\n' ' ')
    [ "$states" = "active " ] || fail "ListVGpus states are '$states', want all active"
    [ "$(manager_prop Active)" = 2 ] || fail "Manager Active is $(manager_prop Active), want 2"
}

removed_by_hand_comes_back() {
    ensure_gvtd
    wait_until "$A exists" device_exists "$A"
    echo 1 > "$MDEV/$A/remove"
    device_gone "$A" || fail "echo 1 > remove did not remove $A"
    reconcile > /dev/null
    wait_until "$A is back" device_exists "$A"
    [ "$(device_type "$A")" = mtty-1 ] || fail "$A came back as $(device_type "$A")"
}

hand_made_survives_prune_owned() {
    ensure_gvtd
    echo "$H" > "$TYPES/mtty-1/create"
    reconcile > /dev/null
    after_passes 2 "the Reconcile call" # two interval passes as well
    device_exists "$H" || fail "gvtd removed the hand-made device $H under prune: owned"
    in_ledger "$H" && fail "the hand-made device $H got into the ledger"
    plan | jq -e --arg u "$H" 'select(.[1] == $u and .[0] == "ignore")' > /dev/null \
        || fail "Plan does not say ignore for $H: $(plan | grep "$H")"
}

undeclared_removed_on_sighup() {
    ensure_gvtd
    wait_until "$B exists" device_exists "$B"
    local mark
    mark=$(log_size)
    write_config "$A:mtty-1"
    signal_gvtd HUP
    wait_until "$B is removed" device_gone "$B"
    in_ledger "$B" && fail "$B is still in the ledger after its removal"
    in_ledger "$A" || fail "$A left the ledger"
    device_exists "$A" || fail "$A was removed too"
    log_since "$mark" | grep -q "SIGHUP" || fail "the log does not mention the SIGHUP"
}

broken_file_changes_nothing() {
    ensure_gvtd
    local before_devices before_ledger error
    before_devices=$(devices)
    before_ledger=$(cat "$LEDGER")
    # Drops A as well: a daemon that acted on this file would remove it.
    printf 'settings:\n  interval: 2s\nvgpus:\n  - uuid: not-a-uuid\n    type: mtty-1\n    parent: mtty\n' > "$CFG"
    signal_gvtd HUP
    wait_until "ConfigError is set" eval '[ -n "$(manager_prop ConfigError)" ]'
    after_passes 2 "ConfigError was set"
    error=$(manager_prop ConfigError)
    echo "ConfigError: $error"
    [[ $error =~ $CFG:[0-9]+:[0-9]+ ]] || fail "ConfigError does not name file:line:column: '$error'"
    [ "$(devices)" = "$before_devices" ] || fail "devices changed: $(devices | tr '\n' ' ')"
    [ "$(cat "$LEDGER")" = "$before_ledger" ] || fail "the ledger changed"
    if busctl call "${MANAGER[@]}" Reload 2> "$WORK/reload.err"; then fail "Reload of a broken file succeeded"; fi
    write_config "$A:mtty-1"
    wait_until "ConfigError clears after a fix" eval '[ -z "$(manager_prop ConfigError)" ]'
}

over_capacity_fails_clearly() {
    ensure_gvtd
    # Fill the 24 shared ports exactly with mtty-2 devices (2 ports each), plus mtty-1 devices for
    # an odd port; then E (mtty-1) is one too many. Each type alone still shows capacity, so gvtd
    # plans every create and the kernel answers E with ENOSPC: the real errno path.
    local free fleet=() n i uuid
    free=$(cat "$TYPES/mtty-1/available_instances")
    n=$(( free / 2 ))
    for i in $(seq 1 "$n"); do fleet+=("$(printf 'c0000000-0000-4000-8000-%012d' "$i"):mtty-2"); done
    [ $(( free % 2 )) -eq 0 ] || fleet+=("d0000000-0000-4000-8000-000000000001:mtty-1")
    local mark
    mark=$(log_size)
    write_config "$A:mtty-1" "${fleet[@]}" "$E:mtty-1"
    reconcile > /dev/null || true
    for entry in "${fleet[@]}"; do
        uuid=${entry%%:*}
        wait_until "$uuid exists" device_exists "$uuid"
    done
    device_exists "$E" && fail "$E exists although there was no capacity for it"
    local state error
    state=$(vgpu_prop "$E" State)
    error=$(vgpu_prop "$E" LastError)
    echo "E: state $state, error: $error"
    [[ $state == failed || $state == blocked ]] || fail "$E is '$state', want failed or blocked"
    [[ $error == *"no capacity left"*mtty-1*mtty* ]] || fail "LastError of $E is not a clear no-capacity error: '$error'"
    local want=$(( ${#fleet[@]} + 1 ))
    [ "$(manager_prop Active)" = "$want" ] || fail "Manager Active is $(manager_prop Active), want $want"
    log_since "$mark" | grep "$E" | grep -q "no capacity left" || fail "the log has no no-capacity line for $E"
    # Leave room for the next scenarios.
    write_config "$A:mtty-1"
    reconcile > /dev/null
    for entry in "${fleet[@]}"; do wait_until "${entry%%:*} is removed" device_gone "${entry%%:*}"; done
}

held_device_not_removed() {
    ensure_gvtd
    write_config "$A:mtty-1" "$V:mtty-1"
    reconcile > /dev/null
    wait_until "$V exists" device_exists "$V"
    start_holder "$V"
    local mark
    mark=$(log_size)
    write_config "$A:mtty-1"
    signal_gvtd HUP
    # Watched until two passes that began after the HUP have ended, and for three rounds at least:
    # the device stays and gvtd answers promptly all along.
    pass_mark
    local rounds=0 deadline=$(( $(now_ms) + HANG_GUARD * 1000 ))
    until [ "$(passes_since_mark)" -ge 2 ] && [ "$rounds" -ge 3 ]; do
        [ "$(now_ms)" -lt "$deadline" ] || fail "hang guard: two passes after the HUP had not ended after ${HANG_GUARD}s"
        answers_while "while $V was held"
        device_exists "$V" || fail "$V was removed while a VFIO user held it"
        rounds=$(( rounds + 1 ))
    done
    answers_figure "while a VFIO user held a device gvtd no longer declares"
    # Undeclared and waiting for its VM, the device reads as "removing" (or "blocked"), InUse, with
    # a reason that says why it has not gone yet.
    local state reason
    state=$(vgpu_prop "$V" State)
    reason=$(vgpu_prop "$V" LastError)
    echo "V while held: state $state, reason: $reason"
    [[ $state == removing || $state == blocked ]] || fail "$V is '$state' while held, want removing or blocked"
    [ "$(vgpu_prop "$V" InUse)" = true ] || fail "$V is not reported InUse while held"
    [[ $reason == *"in use"* ]] || fail "$V's LastError does not say it is in use: '$reason'"
    if log_since "$mark" | grep -q "did not return within"; then fail "gvtd wrote remove to the held device (stuck write)"; fi
    stop_holder
    wait_until "$V is removed after its holder exits" device_gone "$V"
    wait_until "$V leaves the ledger" eval "! in_ledger $V"
}

# A real VM as the client: Debian's QEMU, started paused (-S: TCG runs no guest code) with exactly
# what `gvtctl qemu-args` prints, opens the vGPU's VFIO group as it would for a guest. gvtd must show
# it in use without any planned removal, keep it when it is no longer declared, and remove it once
# QEMU quits.
real_qemu_holds_device() {
    ensure_gvtd
    write_config "$A:mtty-1" "$Q:mtty-1"
    reconcile > /dev/null
    wait_until "$Q exists" device_exists "$Q"
    [ "$(vgpu_prop "$Q" InUse)" = false ] || fail "$Q is in use before any VM started"
    local printed args
    # No process substitution: the guest has no /dev/fd.
    printed=$("$GVTCTL" qemu-args "$Q")
    read -r -a args <<< "$printed"
    echo "gvtctl qemu-args $Q: ${args[*]}"
    qemu-system-x86_64 -M q35 -accel tcg -m 64 -S -nodefaults -display none -monitor none -serial none \
        "${args[@]}" > "$WORK/qemu.out" 2>&1 &
    echo $! > "$WORK/qemu.pid"
    local group opened took
    group=$(basename "$(readlink "$MDEV/$Q/iommu_group")")
    wait_until "QEMU opened /dev/vfio/$group (its output: $(cat "$WORK/qemu.out" 2>/dev/null))" qemu_has_group "$group"
    opened=$(now_ms)
    wait_until "$Q shows InUse while QEMU holds it" eval '[ "$(vgpu_prop "$Q" InUse)" = true ]'
    took=$(( $(now_ms) - opened ))
    figure "real kernel (TCG): QEMU opened the group -> InUse true: ${took} ms (busctl under TCG included)"
    write_config "$A:mtty-1"
    signal_gvtd HUP
    after_passes 2 "the HUP"
    device_exists "$Q" || fail "$Q was removed while QEMU held it"
    [ "$(vgpu_prop "$Q" InUse)" = true ] || fail "$Q is not shown in use while QEMU holds it"
    kill "$(cat "$WORK/qemu.pid")"
    wait "$(cat "$WORK/qemu.pid")" 2>/dev/null || true
    local quit
    quit=$(now_ms)
    wait_until "$Q is removed once QEMU quit" device_gone "$Q"
    figure "real kernel (TCG): QEMU quit -> its vGPU removed: $(( $(now_ms) - quit )) ms"
    wait_until "$Q leaves the ledger" eval "! in_ledger $Q"
}

# The fallback when gvtd cannot see the VFIO user (only an anonymous device fd is held): the remove
# write blocks in the kernel. gvtd must keep answering, report the remove as stuck after its write
# timeout (10 s), and finish the job once the kernel lets the write go.
stuck_remove_keeps_answering() {
    ensure_gvtd
    write_config "$A:mtty-1" "$S:mtty-1"
    reconcile > /dev/null
    wait_until "$S exists" device_exists "$S"
    start_holder --device-only "$S"
    local mark
    mark=$(log_size)
    write_config "$A:mtty-1"
    signal_gvtd HUP
    # Asked again and again until gvtd reports the remove as stuck (its write timeout is 10 s), and
    # twice more after that.
    local rounds=0 stuck_at=0 deadline=$(( $(now_ms) + HANG_GUARD * 1000 ))
    until [ "$stuck_at" -gt 0 ] && [ "$rounds" -ge $(( stuck_at + 2 )) ]; do
        [ "$(now_ms)" -lt "$deadline" ] || fail "hang guard: gvtd did not report the stuck remove of $S within ${HANG_GUARD}s"
        answers_while "while a remove was stuck"
        rounds=$(( rounds + 1 ))
        if [ "$stuck_at" -eq 0 ] && log_since "$mark" | grep -q "did not return within"; then stuck_at=$rounds; fi
    done
    answers_figure "while a remove was stuck in the kernel"
    holder_running || fail "the VFIO holder died: $(cat "$WORK/hold.out")"
    # While the remove waits, the kernel has already dropped the /sys/bus/mdev/devices link (the bus
    # unlinks before it unbinds the driver); the device itself lives on under its parent.
    device_in_kernel "$S" || fail "$S went although its holder still runs (the remove did not block?)"
    local state
    state=$(vgpu_prop "$S" State)
    echo "S while its remove is stuck: $state, $(vgpu_prop "$S" LastError)"
    [[ $state == removing || $state == pending ]] || fail "$S is '$state' while its remove is stuck, want removing or pending"
    in_ledger "$S" || fail "$S left the ledger while the kernel still has it"
    stop_holder
    wait_until "$S is removed once its holder exits" eval "! device_in_kernel $S"
    wait_until "$S leaves the ledger" eval "! in_ledger $S"
    [ "$(devices)" = "$(printf '%s\n' "$A" "$H" | sort)" ] || fail "devices afterwards: $(devices | tr '\n' ' ')"
}

# identity UUID: the inode of the device's sysfs directory and its IOMMU group. kernfs numbers its
# inodes cyclically, so a device removed and made again under the same UUID has another inode.
identity() { echo "inode $(stat -L -c %i "$MDEV/$1") group $(basename "$(readlink "$MDEV/$1/iommu_group")")"; }

kill9_restart_converges() {
    ensure_gvtd
    local before_ledger mark id_a id_h
    before_ledger=$(ledger)
    id_a=$(identity "$A")
    id_h=$(identity "$H")
    signal_gvtd KILL
    wait_until "gvtd is dead" eval '! gvtd_running'
    # Changed while gvtd was down: it must pick this up, and keep what it already made.
    write_config "$A:mtty-1" "$W:mtty-2"
    mark=$(log_size)
    start_gvtd
    wait_until "$W exists" device_exists "$W"
    local want
    want=$(printf '%s\n' "$A" "$H" "$W" | sort)
    [ "$(devices)" = "$want" ] || fail "devices after restart: $(devices | tr '\n' ' '), want $A $H $W"
    [ "$(ledger)" = "$(printf '%s\n' "$before_ledger" "$W" | sort)" ] || fail "ledger after restart: $(ledger | tr '\n' ' ')"
    head -n1 "$LEDGER" | grep -q '^# gvtd ownership ledger' || fail "the ledger lost its header"
    echo "$A before: $id_a, after: $(identity "$A"); $H before: $id_h, after: $(identity "$H")"
    [ "$(identity "$A")" = "$id_a" ] || fail "$A is another device after the restart ($id_a, now $(identity "$A")): gvtd recreated it"
    [ "$(identity "$H")" = "$id_h" ] || fail "the hand-made $H is another device after the restart ($id_h, now $(identity "$H"))"
    if log_since "$mark" | grep -q "Created vGPU $A"; then fail "gvtd recreated $A after the restart"; fi
}

sigterm_exits_leaving_devices() {
    ensure_gvtd
    local before pid start took mark
    before=$(devices)
    pid=$(gvtd_pid)
    mark=$(log_size)
    start=$(now_ms)
    signal_gvtd TERM
    wait_until "gvtd exits after SIGTERM" eval "! is_running $pid"
    took=$(( $(now_ms) - start ))
    figure "real kernel (TCG): SIGTERM -> gvtd exited: ${took} ms"
    # Gone (or a zombie) means every write it made has returned: nothing can change after this.
    [ "$(devices)" = "$before" ] || fail "devices changed on SIGTERM: $(devices | tr '\n' ' ')"
    log_since "$mark" | grep -q "Stopping; vGPUs are left in place" || fail "gvtd did not log an orderly stop: $(log_since "$mark" | tail -n 3 | tr '\n' '|')"
    if log_since "$mark" | grep -q "Removed vGPU"; then fail "gvtd removed a vGPU on its way out"; fi
}

unprivileged_refused_reconcile() {
    ensure_gvtd
    local nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    local state
    state=$("${nobody[@]}" busctl --json=short get-property "${MANAGER[@]}" State | jq -r .data) \
        || fail "an unprivileged caller cannot read State"
    [ -n "$state" ] || fail "State read as empty by an unprivileged caller"
    "${nobody[@]}" busctl get-property "${MANAGER[@]}" Desired > /dev/null || fail "an unprivileged caller cannot read Desired"
    if "${nobody[@]}" busctl call "${MANAGER[@]}" Reconcile > "$WORK/nobody.out" 2> "$WORK/nobody.err"; then
        fail "an unprivileged Reconcile succeeded: $(cat "$WORK/nobody.out")"
    fi
    cat "$WORK/nobody.err"
    # busctl prints AccessDenied as just "Access denied", whatever the message; dbus-send shows the
    # error name and gvtd's own words, which tells gvtd's refusal apart from a bus policy one.
    grep -q "Access denied" "$WORK/nobody.err" || fail "busctl's refusal is not Access denied: $(cat "$WORK/nobody.err")"
    "${nobody[@]}" dbus-send --system --print-reply --dest=org.gvtd.Gvtd1 /org/gvtd/Gvtd1/Manager \
        org.gvtd.Gvtd1.Manager.Reconcile > "$WORK/nobody.err" 2>&1 || true
    cat "$WORK/nobody.err"
    grep -q "org.freedesktop.DBus.Error.AccessDenied: .*needs root" "$WORK/nobody.err" \
        || fail "gvtd's refusal is not AccessDenied saying it needs root: $(cat "$WORK/nobody.err")"
    reconcile > /dev/null || fail "root's Reconcile failed"
}

# gvtd without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (a trimmed unit, a container) cannot read
# other processes' /proc/PID/fd. Another user's VM holds a device whose declaration is dropped: it
# must stay, and gvtd must say what it cannot see. It stays after the holder exits too, as gvtd
# still cannot see; once gvtd runs with its capabilities again, the device goes.
blind_gvtd_keeps_held_device() {
    if gvtd_running; then signal_gvtd TERM; wait_until "gvtd stopped" eval '! gvtd_running'; fi
    write_config "$A:mtty-1" "$Z:mtty-1"
    start_gvtd setpriv --bounding-set=-sys_ptrace,-dac_read_search --inh-caps=-sys_ptrace,-dac_read_search
    local caps
    caps=$(( 16#$(awk '/^CapEff:/ {print $2}' "/proc/$(gvtd_pid)/status") ))
    (( (caps & 0x80004) == 0 )) || fail "gvtd still has CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH (CapEff $caps)"
    wait_until "$Z exists" device_exists "$Z"
    local group reason
    group=$(basename "$(readlink "$MDEV/$Z/iommu_group")")
    chown 65534 "/dev/vfio/$group"
    start_holder --as-nobody "$Z"
    write_config "$A:mtty-1"
    signal_gvtd HUP
    after_passes 2 "the HUP"
    device_exists "$Z" || fail "a gvtd that cannot see /proc/PID/fd removed $Z while another user's VM held it"
    reason=$(vgpu_prop "$Z" LastError)
    echo "Z while held, gvtd blind: state $(vgpu_prop "$Z" State), reason: $reason"
    [[ $reason == *"cannot tell"*CAP_SYS_PTRACE* ]] || fail "$Z's LastError does not say what gvtd cannot see: '$reason'"
    [ "$(vgpu_prop "$Z" InUse)" = true ] || fail "$Z is not reported InUse while gvtd cannot tell"
    stop_holder
    after_passes 2 "the holder exited"
    device_exists "$Z" || fail "gvtd removed $Z while it still could not see who holds it"
    signal_gvtd TERM
    wait_until "gvtd stopped" eval '! gvtd_running'
    start_gvtd
    wait_until "$Z is removed once gvtd can see that nobody holds it" device_gone "$Z"
}

# The kernel's uevents drive passes: with a 10 minute interval, a device removed by hand and the
# devices of a parent whose driver is unloaded and loaded again come back (how soon is a figure).
uevents_drive_passes() {
    ensure_gvtd
    local mark start
    mark=$(log_size)
    INTERVAL=10m write_config "$A:mtty-1"
    signal_gvtd HUP
    # Once a pass begun after the HUP has ended, the 10 minute interval is in force.
    wait_until "gvtd logged the SIGHUP" eval 'log_since "$mark" | grep -q SIGHUP'
    reconcile > /dev/null
    wait_until "$A exists" device_exists "$A"
    mark=$(log_size)
    start=$(now_ms)
    echo 1 > "$MDEV/$A/remove"
    wait_until "$A is back after a hand removal, from the uevent alone" device_exists "$A"
    figure "real kernel (TCG): removed by hand -> back: $(( $(now_ms) - start )) ms"
    # The driver goes (with no devices left, as rmmod needs), A is declared meanwhile, and gvtd
    # waits for the parent; loading the driver is what makes it act.
    INTERVAL=10m write_config
    signal_gvtd HUP
    wait_until "$A is removed once no longer declared" device_gone "$A"
    local d
    for d in $(devices); do echo 1 > "$MDEV/$d/remove"; done
    rmmod mtty || fail "rmmod mtty failed: $(devices | tr '\n' ' ')"
    local unloaded
    unloaded=$(log_size)
    INTERVAL=10m write_config "$A:mtty-1"
    signal_gvtd HUP
    # Without its parent nothing can be created: gvtd's pass on the new file must say it waits for
    # mtty, and must not have tried to write a create.
    wait_until "gvtd reports that it waits for parent mtty" eval '[ "$(manager_prop AwaitedParents | jq -r ".[]")" = mtty ]'
    echo "A while mtty is unloaded: $(vgpu_prop "$A" State): $(vgpu_prop "$A" LastError)"
    plan | jq -e --arg u "$A" 'select(.[1] == $u and .[0] == "blocked") | select(.[4] | test("parent mtty is not present"))' > /dev/null \
        || fail "Plan for $A does not say it waits for its parent: $(plan | grep "$A")"
    if log_since "$unloaded" | grep -q "Failed to create vGPU $A"; then fail "gvtd tried to create $A while its parent was absent"; fi
    start=$(now_ms)
    insmod "$MTTY_KO"
    wait_until "$A is back after the driver was loaded again" device_exists "$A"
    figure "real kernel (TCG): mtty reloaded -> declared device back: $(( $(now_ms) - start )) ms"
    in_ledger "$A" || fail "$A is no longer gvtd's after the reload"
    log_since "$mark" | grep "Pass (" || true
    if log_since "$mark" | grep -q "Pass (interval)"; then fail "an interval pass ran: the clock, not the events, did this"; fi
    # 24 devices removed by hand at once: a burst of uevents, a few passes.
    local fleet=("$A:mtty-1") i
    for i in $(seq 1 23); do fleet+=("$(printf 'f0000000-0000-4000-8000-%012d' "$i"):mtty-1"); done
    INTERVAL=10m write_config "${fleet[@]}"
    signal_gvtd HUP
    wait_until "all 24 declared devices exist" eval '[ "$(devices | wc -l)" -eq 24 ]'
    # The passes the creates' own uevents start end before the count begins: the Reconcile call
    # returns once a pass begun after them has ended.
    reconcile_logged
    mark=$(log_size)
    local passes most
    # shellcheck disable=SC2046 # one UUID a word
    most=$(remove_burst $(devices))
    # The count ends with the pass whose creates make 24 since the removals: at least one pass
    # ran, and those passes, not something else, brought the 24 back.
    wait_until "gvtd's passes since the removals have created 24 devices" eval '[ -n "$(log_since "$mark" | passes_until_created 24)" ]'
    passes=$(log_since "$mark" | passes_until_created 24)
    log_since "$mark" | grep "Pass (" || true
    [ "$(devices | wc -l)" -eq 24 ] || fail "$(devices | wc -l) devices after the passes that created 24, want 24"
    figure "real kernel (TCG): 24 removed by hand at once -> back in $passes pass(es) (at most $most for how fast the removals came)"
    [ "$passes" -ge 1 ] && [ "$passes" -le "$most" ] || fail "24 removals took $passes passes, want 1 to $most"
    if log_since "$mark" | grep -q "Pass (interval)"; then fail "an interval pass ran: the clock, not the events, did this"; fi
    INTERVAL=2s write_config "$A:mtty-1"
    signal_gvtd HUP
}

main() {
    mkdir -p "$WORK/etc" "$STATE"
    : > "$RESULTS/results.txt"
    : > "$GVTD_LOG"
    log "guest: kernel $(uname -r), mdev parents: $(ls /sys/class/mdev_bus)" >> "$RESULTS/guest.log"
    start_bus >> "$RESULTS/guest.log" 2>&1 || { echo "FAIL dbus: cannot start dbus-daemon" >> "$RESULTS/results.txt"; exit 1; }

    run_scenario declared-devices-appear declared_devices_appear
    run_scenario removed-by-hand-comes-back removed_by_hand_comes_back
    run_scenario hand-made-survives-prune-owned hand_made_survives_prune_owned
    run_scenario undeclared-removed-on-sighup undeclared_removed_on_sighup
    run_scenario broken-file-changes-nothing broken_file_changes_nothing
    run_scenario over-capacity-fails-clearly over_capacity_fails_clearly
    run_scenario held-device-not-removed held_device_not_removed
    run_scenario real-qemu-holds-device real_qemu_holds_device
    run_scenario stuck-remove-keeps-answering stuck_remove_keeps_answering
    run_scenario kill9-restart-converges kill9_restart_converges
    run_scenario sigterm-exits-leaving-devices sigterm_exits_leaving_devices
    run_scenario unprivileged-refused-reconcile unprivileged_refused_reconcile
    run_scenario blind-gvtd-keeps-held-device blind_gvtd_keeps_held_device
    run_scenario uevents-drive-passes uevents_drive_passes

    gvtd_running && signal_gvtd TERM
    touch "$RESULTS/done"
}

main
