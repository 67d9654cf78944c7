# Helpers for the guest scripts that run gvtd by hand (guest.sh, guest-sriov.sh): a system-type
# bus of their own, the host's gvtd binary on it, its log, and a VFIO holder; and the places they
# share. The sourcing script sets RESULTS and has read guest.env (GVTD, HOLD, REPO).
# shellcheck shell=bash

WORK=/run/gvtd-vm
CFG=$WORK/etc/vgpus.yaml
STATE=$WORK/state
# shellcheck disable=SC2034 # lib.sh's ledger() reads it
LEDGER=$STATE/owned
GVTD_LOG=$RESULTS/gvtd.log
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/gvtd-vm-bus/system_bus_socket

# bus_round_trip: how long busctl takes for a call the bus daemon answers itself (GetId), in ms.
# Under TCG that is mostly starting busctl, a few hundred ms that swing with the host's load (seen:
# 400 to 1,500 ms).
bus_round_trip() {
    local start
    start=$(now_ms)
    busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId > /dev/null \
        || fail "the bus daemon did not answer GetId"
    echo $(( $(now_ms) - start ))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# answers_while WHEN: gvtd answers get-property State within ten times the bus's own round trip,
# taken in the same run: the median of the GetId calls made in this scenario, three before the
# first answer and one beside each. A gvtd whose bus handling waits on a stuck write takes the
# write's timeout (10 s) or busctl's (25 s) every time, beyond any such bound; a busy host slows
# both kinds of call alike, and one slow sample (the guest descheduled) is asked again before it
# counts: only two slow answers in a row fail. The times go to $WORK/answer-times and
# $WORK/bus-times (run_scenario clears them).
answers_while() {
    local took bus bound
    if [ ! -s "$WORK/bus-times" ]; then
        for _ in 1 2 3; do bus_round_trip >> "$WORK/bus-times"; done
    fi
    for _ in 1 2; do
        bus_round_trip >> "$WORK/bus-times"
        took=$(answer_ms) || fail "get-property State failed $1"
        echo "$took" >> "$WORK/answer-times"
        bus=$(median < "$WORK/bus-times")
        bound=$(( 10 * bus ))
        [ "$took" -lt "$bound" ] && return 0
    done
    fail "gvtd took ${took} ms to answer get-property State $1, twice in a row more than 10 x the bus's own round trip (median ${bus} ms of $(paste -sd' ' "$WORK/bus-times")); gvtd's answers so far: $(paste -sd' ' "$WORK/answer-times")"
}

# answer_ms: how long gvtd takes to answer get-property State, in ms; fails if it does not answer.
answer_ms() {
    local start
    start=$(now_ms)
    busctl get-property "${MANAGER[@]}" State > /dev/null || return 1
    echo $(( $(now_ms) - start ))
}

# answers_figure WHAT: the answer times of this scenario beside the bus's own, as a figure.
answers_figure() {
    figure "real kernel (TCG): get-property State $1: median $(median < "$WORK/answer-times") ms, at most $(sort -n "$WORK/answer-times" | tail -n1) ms over $(wc -l < "$WORK/answer-times") calls; the bus's own GetId: median $(median < "$WORK/bus-times") ms"
}

gvtd_pid() { cat "$WORK/gvtd.pid" 2>/dev/null || echo 0; }
gvtd_running() { is_running "$(gvtd_pid)"; }
gvtd_done_first_pass() { [ "$(manager_prop LastReconcile 2>/dev/null || echo 0)" -gt 0 ]; }
gvtd_log_text() { cat "$GVTD_LOG"; }
log_size() { stat -c %s "$GVTD_LOG"; }
log_since() { tail -c +$(( $1 + 1 )) "$GVTD_LOG"; }

# start_gvtd [PREFIX...]: PREFIX runs gvtd (setpriv, to take capabilities away).
# shellcheck disable=SC2120 # guest.sh passes a prefix; the others call it bare
start_gvtd() {
    "$@" "$GVTD" --config "$CFG" --state-dir "$STATE" --runtime-dir /run/gvtd --sysfs-root /sys --bus system \
        >> "$GVTD_LOG" 2>&1 &
    echo $! > "$WORK/gvtd.pid"
    wait_until "gvtd serves D-Bus and has finished its first pass" gvtd_done_first_pass
}

# start_holder [--as-nobody] [--device-only] UUID: a VFIO user that holds the device until stop_holder.
start_holder() {
    local as=()
    if [ "$1" = --as-nobody ]; then as=(setpriv --reuid=65534 --regid=65534 --clear-groups); shift; fi
    rm -f "$WORK/hold.out"
    "${as[@]}" "$HOLD" "$@" > "$WORK/hold.out" 2>&1 &
    echo $! > "$WORK/holder.pid"
    wait_until "the VFIO holder has the device" grep -q holding "$WORK/hold.out"
}

holder_running() { is_running "$(cat "$WORK/holder.pid")"; }

# A scenario that failed half way must not leave its VFIO holder to confuse the next ones.
stop_holder() {
    local pid
    pid=$(cat "$WORK/holder.pid" 2>/dev/null) || return 0
    if is_running "$pid"; then kill "$pid"; fi
    rm -f "$WORK/holder.pid"
}

ensure_gvtd() { gvtd_running || start_gvtd; }

signal_gvtd() { kill "-$1" "$(gvtd_pid)"; }

# A system-type bus of our own, with the policy gvtd ships, so the unprivileged checks are real.
start_bus() {
    mkdir -p /run/gvtd-vm-bus
    sed -e "s|@SOCKET@|/run/gvtd-vm-bus/system_bus_socket|" -e "s|@POLICY@|$REPO/packaging/dbus/org.gvtd.Gvtd1.conf|" \
        "$REPO/tests/system-bus.conf.in" > "$WORK/bus.conf"
    dbus-daemon --config-file="$WORK/bus.conf" --nofork --nopidfile >> "$RESULTS/dbus.log" 2>&1 &
    wait_until "the bus socket exists" test -S /run/gvtd-vm-bus/system_bus_socket
}
