#!/bin/bash
# Runs inside the test VM under a real systemd as PID 1 (the host's root read-only, with a tmpfs
# overlay on top), started by gvtd-vm-guest.service once dbus.service and systemd-logind run.
# Installs the project's .deb with dpkg, so gvtd runs as the shipped, hardened unit on the real
# system bus, and proves what a booting host needs: devices there when the driver loads late, back
# at once when they go, and there before units ordered after gvtd.service start. The mtty driver
# is not loaded at boot; the scenarios load and unload it. The interval is 10 minutes throughout,
# so the clock cannot be what fixes anything. One PASS/FAIL line per scenario to RESULTS/results.txt.
#   guest-systemd.sh RESULTS      (RESULTS/guest.env names DEB, MTTY_KO and REPO)
set -euo pipefail
RESULTS=$1
# shellcheck source=/dev/null
. "$RESULTS/guest.env"

WORK=/run/gvtd-vm
CFG=/etc/gvtd/vgpus.yaml
LEDGER=/var/lib/gvtd/owned
MDEV=/sys/bus/mdev/devices
INTERVAL=10m

# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"

A=11111111-0000-4000-8000-00000000000a
B=22222222-0000-4000-8000-00000000000b

status_text() { systemctl show -P StatusText gvtd.service; }
gvtd_log_text() { journalctl -b -u gvtd.service -o cat --no-pager; }
mtty_loaded() { [ -e /sys/class/mdev_bus/mtty ]; }

# ms_until WHAT COMMAND...: like wait_until, and prints how long it took. Use it as
# took=$(ms_until ...): a failure in an assignment ends the scenario, one inside echo would not.
ms_until() {
    local start
    start=$(now_ms)
    wait_until "$@"
    echo "$(( $(now_ms) - start ))"
}

# ---- scenarios --------------------------------------------------------------------------------

# dpkg -i of the package built on the host: the unit is installed, enabled and started.
deb_installs_and_starts() {
    # dpkg's man-db trigger would re-index every manual page of the host: minutes under TCG.
    rm -f /var/lib/man-db/auto-update
    # The host root may come from a container image, whose policy-rc.d (exit 101) forbids starting
    # services from maintainer scripts; a real host has none.
    rm -f /usr/sbin/policy-rc.d
    local start
    start=$(now_ms)
    dpkg -i "$DEB"
    echo "dpkg -i took $(( $(now_ms) - start )) ms"
    wait_until "gvtd.service is active" systemctl is-active --quiet gvtd.service
    [ "$(systemctl show -P FragmentPath gvtd.service)" = /lib/systemd/system/gvtd.service ] \
        || fail "gvtd runs from $(systemctl show -P FragmentPath gvtd.service), not the shipped unit"
    systemctl is-enabled --quiet gvtd.service || fail "the package did not enable gvtd.service"
    busctl get-property "${MANAGER[@]}" State > /dev/null || fail "gvtd does not answer on the system bus"
    echo "status: $(status_text)"
}

# The parent's driver loads after gvtd started: the declared devices appear, from the driver's
# uevents alone (the interval is 10 minutes). How long it took is a figure.
driver_loads_after_gvtd() {
    mtty_loaded && fail "mtty is loaded already; the VM should boot without it"
    write_config "$A:mtty-1" "$B:mtty-2"
    systemctl reload gvtd.service
    wait_until "STATUS= says gvtd waits for mtty" eval '[[ "$(status_text)" == *"waiting for parent mtty"* ]]'
    echo "status while waiting: $(status_text)"
    [ "$(busctl --json=short get-property "${MANAGER[@]}" AwaitedParents | jq -c .data)" = '["mtty"]' ] \
        || fail "AwaitedParents on D-Bus is $(busctl get-property "${MANAGER[@]}" AwaitedParents), want mtty"
    # Exit status 4: not every declared vGPU is active, which is the point here.
    gvtctl status > "$WORK/status.out" || [ $? -eq 4 ] || fail "gvtctl status failed: $(cat "$WORK/status.out")"
    grep -q "waiting:    parent mtty: driver not loaded" "$WORK/status.out" \
        || fail "gvtctl status does not say it waits for mtty: $(tr '\n' '|' < "$WORK/status.out")"
    insmod "$MTTY_KO"
    took=$(ms_until "both exist after the driver loaded" eval "device_exists $A && device_exists $B")
    figure "real kernel (TCG, systemd): mtty loaded after gvtd -> both declared devices: $took ms"
}

# The driver goes and comes back while gvtd runs: the devices return, still gvtd's, from the
# uevents alone; a dropped one goes.
driver_reload_keeps_ownership() {
    wait_until "both declared devices exist" eval "device_exists $A && device_exists $B"
    rmmod mtty || fail "rmmod mtty failed with devices $(devices | tr '\n' ' ')"
    # gvtd saw the parent go (its uevents): it waits for mtty, and the devices stay its own.
    wait_until "gvtd reports that it waits for parent mtty" eval '[ "$(manager_prop AwaitedParents | jq -r ".[]")" = mtty ]'
    in_ledger "$A" && in_ledger "$B" || fail "the ledger lost them while mtty was away: $(ledger | tr '\n' ' ')"
    insmod "$MTTY_KO"
    took=$(ms_until "both are back after the driver reloaded" eval "device_exists $A && device_exists $B")
    figure "real kernel (TCG, systemd): mtty reloaded -> both back: $took ms"
    in_ledger "$A" && in_ledger "$B" || fail "the ledger lost them: $(ledger | tr '\n' ' ')"
    write_config "$A:mtty-1"
    took=$(ms_until "$B is removed once dropped" device_gone "$B")
    figure "real kernel (TCG, systemd): dropped from the file -> removed: $took ms"
    in_ledger "$B" && fail "$B is still in the ledger"
    device_exists "$A" || fail "$A went too"
}

removed_by_hand_comes_back() {
    wait_until "$A exists" device_exists "$A"
    echo 1 > "$MDEV/$A/remove"
    took=$(ms_until "$A is back" device_exists "$A")
    figure "real kernel (TCG, systemd): removed by hand -> back: $took ms"
}

# A unit with Requires= and After=gvtd.service (as libvirt-guests is ordered) finds every declared
# device when it runs: READY=1 comes only after gvtd's first pass.
oneshot_after_gvtd_sees_devices() {
    write_config "$A:mtty-1" "$B:mtty-2"
    wait_until "both declared devices exist" eval "device_exists $A && device_exists $B"
    systemctl stop gvtd.service
    echo 1 > "$MDEV/$A/remove"
    echo 1 > "$MDEV/$B/remove"
    rm -f /run/gvtd-vm-consumer.seen
    systemctl start gvtd-vm-consumer.service
    systemctl is-active --quiet gvtd.service || fail "starting the consumer did not start gvtd"
    echo "the consumer saw: $(tr '\n' ' ' < /run/gvtd-vm-consumer.seen)"
    grep -qx "$A" /run/gvtd-vm-consumer.seen && grep -qx "$B" /run/gvtd-vm-consumer.seen \
        || fail "a unit ordered after gvtd.service ran before the declared devices existed: saw $(tr '\n' ' ' < /run/gvtd-vm-consumer.seen)"
}

# 24 devices removed by hand at once: all back, in a few passes (remove_burst says how many).
burst_of_24_removals() {
    local fleet=("$A:mtty-1") i before passes most
    for i in $(seq 1 23); do fleet+=("$(printf 'f0000000-0000-4000-8000-%012d' "$i"):mtty-1"); done
    write_config "${fleet[@]}"
    wait_until "all 24 declared devices exist" eval '[ "$(devices | wc -l)" -eq 24 ]'
    # The passes the creates' own uevents start end before the count begins: the Reconcile call
    # returns once a pass begun after them has ended.
    reconcile_logged
    before=$(gvtd_log_text | wc -l)
    # shellcheck disable=SC2046 # one UUID a word
    most=$(remove_burst $(devices))
    # The count ends with the pass whose creates make 24 since the removals: at least one pass
    # ran, and those passes, not something else, brought the 24 back.
    wait_until "gvtd's passes since the removals have created 24 devices" \
        eval '[ -n "$(gvtd_log_text | tail -n +$(( before + 1 )) | passes_until_created 24)" ]'
    passes=$(gvtd_log_text | tail -n +$(( before + 1 )) | passes_until_created 24)
    gvtd_log_text | tail -n +$(( before + 1 )) | grep "Pass (" || true
    [ "$(devices | wc -l)" -eq 24 ] || fail "$(devices | wc -l) devices after the passes that created 24, want 24"
    figure "real kernel (TCG, systemd): 24 removed by hand at once -> back in $passes pass(es) (at most $most for how fast the removals came)"
    [ "$passes" -ge 1 ] && [ "$passes" -le "$most" ] || fail "24 removals took $passes passes, want 1 to $most"
    gvtd_log_text | grep "Pass (interval)" \
        && fail "an interval pass ran: the clock, not the events, did this"
    write_config "$A:mtty-1"
}

# gvtd holds a sleep delay inhibitor from the real systemd-logind while it has vGPUs of its own.
inhibitor_listed() {
    wait_until "$A exists" device_exists "$A"
    wait_until "gvtd reports its inhibitor" eval '[ "$(busctl --json=short get-property "${MANAGER[@]}" SleepInhibitor | jq -r .data)" = true ]'
    systemd-inhibit --list --no-pager
    systemd-inhibit --list --no-pager | grep "gvtd (virtual GPUs)" | grep -q "sleep" \
        || fail "systemd-inhibit --list does not show gvtd's sleep inhibitor"
    systemd-inhibit --list --no-pager | grep "gvtd (virtual GPUs)" | grep -q "delay" \
        || fail "gvtd's inhibitor is not a delay inhibitor"
    [ "$(busctl --json=short get-property "${MANAGER[@]}" SleepState | jq -r .data)" = awake ] || fail "SleepState is not awake"
}

# The Ansible role (deploy/ansible) run with ansible-playbook -c local, as on each host of a fleet.
PLAY=/root/gvtd-play
run_play() {
    ANSIBLE_ROLES_PATH=$REPO/deploy/ansible/roles ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_PIPELINING=1 \
        ansible-playbook -i localhost, -c local -e ansible_python_interpreter=/usr/bin/python3 -e "@$1" "$PLAY/play.yml"
}
recap() { sed -n 's/^localhost *: //p' "$1"; }

ansible_role() {
    mkdir -p "$PLAY"
    printf -- '- hosts: localhost\n  gather_facts: false\n  roles: [gvtd]\n' > "$PLAY/play.yml"
    cat > "$PLAY/good.yml" <<EOF
gvtd_package: $DEB
gvtd_interval: 10m
gvtd_vgpus:
  - {uuid: $A, type: mtty-1, parent: mtty, name: first}
  - {uuid: $B, type: mtty-2, parent: mtty}
EOF
    sed 's/uuid: 2222[^,]*,/uuid: not-a-uuid,/' "$PLAY/good.yml" > "$PLAY/broken.yml"
    local start
    start=$(now_ms)
    run_play "$PLAY/good.yml" > "$WORK/play1.out" 2>&1 || fail "the first run failed: $(tail -n 5 "$WORK/play1.out" | tr '\n' '|')"
    echo "first run ($(( $(now_ms) - start )) ms): $(recap "$WORK/play1.out")"
    grep -o 'gvtd: [0-9]* of [0-9]* declared vGPU(s) active[^"]*' "$WORK/play1.out" | head -n1
    [[ $(recap "$WORK/play1.out") == *"changed=0"* ]] && fail "the first run changed nothing"
    [[ $(recap "$WORK/play1.out") == *"failed=0"* ]] || fail "the first run failed a task"
    grep -q 'gvtd: 2 of 2 declared vGPU(s) active' "$WORK/play1.out" || fail "the role did not report 2 of 2 active"
    device_exists "$A" && device_exists "$B" || fail "the declared devices do not exist after the first run"
    gvtd --check-config "$CFG" || fail "the written file does not pass gvtd --check-config"

    start=$(now_ms)
    run_play "$PLAY/good.yml" > "$WORK/play2.out" 2>&1 || fail "the second run failed: $(tail -n 5 "$WORK/play2.out" | tr '\n' '|')"
    echo "second run ($(( $(now_ms) - start )) ms): $(recap "$WORK/play2.out")"
    [[ $(recap "$WORK/play2.out") == *"changed=0"* ]] || fail "the second run changed something: $(recap "$WORK/play2.out")"

    local before devices_before
    before=$(sha256sum "$CFG")
    devices_before=$(devices)
    if run_play "$PLAY/broken.yml" > "$WORK/play3.out" 2>&1; then fail "a run with a broken UUID succeeded"; fi
    echo "broken run: $(recap "$WORK/play3.out")"
    grep -q "not a UUID" "$WORK/play3.out" || fail "the failed run does not show gvtd's error: $(grep -m3 -i 'fatal\|failed' "$WORK/play3.out" | tr '\n' '|')"
    [ "$(sha256sum "$CFG")" = "$before" ] || fail "the broken run changed $CFG"
    [ "$(devices)" = "$devices_before" ] || fail "the broken run changed the devices"
    systemctl is-active --quiet gvtd.service || fail "gvtd is not running after the broken run"
}

main() {
    mkdir -p "$WORK"
    : > "$RESULTS/results.txt"
    log "guest (systemd $(systemctl --version | head -n1 | cut -d' ' -f2)): kernel $(uname -r), up since boot" >> "$RESULTS/guest.log"
    systemd-analyze >> "$RESULTS/guest.log" 2>&1 || true

    run_scenario systemd-deb-installs-and-starts deb_installs_and_starts
    if ! systemctl is-active --quiet gvtd.service; then
        echo "FAIL systemd-scenarios: gvtd.service is not running after dpkg -i; nothing more to try" >> "$RESULTS/results.txt"
    else
        run_scenario systemd-driver-loads-after-gvtd driver_loads_after_gvtd
        run_scenario systemd-driver-reload-keeps-ownership driver_reload_keeps_ownership
        run_scenario systemd-removed-by-hand-comes-back removed_by_hand_comes_back
        run_scenario systemd-oneshot-after-gvtd-sees-devices oneshot_after_gvtd_sees_devices
        run_scenario systemd-burst-of-24-removals burst_of_24_removals
        run_scenario systemd-sleep-inhibitor-listed inhibitor_listed
        run_scenario systemd-ansible-role ansible_role
    fi
    journalctl -b -u gvtd.service --no-pager -o short-monotonic > "$RESULTS/gvtd.log" 2>&1 || true
    touch "$RESULTS/done"
}

main
