# Helpers both guest scripts share (guest.sh under busybox, guest-systemd.sh under systemd).
# The sourcing script sets RESULTS, WORK (scratch), MDEV, CFG (the desired state file) and LEDGER.
# shellcheck shell=bash

MANAGER=(org.gvtd.Gvtd1 /org/gvtd/Gvtd1/Manager org.gvtd.Gvtd1.Manager)

now_ms() { date +%s%3N; }
log() {
    local uptime _
    read -r uptime _ < /proc/uptime
    echo "[$uptime] $*"
}

# Ends the current scenario with a reason (scenarios run in a subshell).
fail() {
    echo "$*" > "$WORK/why"
    exit 1
}

# How long any wait may take before it counts as hung. A wait is for something to happen, never a
# latency gate: under TCG on a busy 2-core host what takes 200 ms alone can take many seconds. How
# long it took is a figure (figure below), not a verdict.
HANG_GUARD=120

# wait_until WHAT COMMAND...: polls until COMMAND succeeds, or fails the scenario after HANG_GUARD.
wait_until() {
    local what=$1
    shift
    local deadline=$(( $(now_ms) + HANG_GUARD * 1000 ))
    until "$@"; do
        [ "$(now_ms)" -lt "$deadline" ] || fail "hang guard: still waiting until $what after ${HANG_GUARD}s"
        sleep 0.2
    done
}

# figure TEXT: a measured time for the host to print ("vm: figure: ..."); the tier never gates on it.
figure() {
    echo "figure: $*"
    echo "$*" >> "$RESULTS/figures.txt"
}

# A process counts as gone once it is a zombie too: PID 1 of the busybox VM is a shell that never
# reaps the orphans our subshells leave behind.
is_running() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$state" != Z ]
}

device_exists() { [ -e "$MDEV/$1" ]; }
device_gone() { ! device_exists "$1"; }
device_in_kernel() { [ -e "/sys/class/mdev_bus/mtty/$1" ]; }
device_type() { basename "$(readlink "$MDEV/$1/mdev_type")"; }
device_parent() { basename "$(dirname "$(readlink -f "$MDEV/$1")")"; }
devices() { find "$MDEV" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort; }
ledger() { grep -v '^#' "$LEDGER" 2>/dev/null | sort || true; }
in_ledger() { ledger | grep -qx "$1"; }

# write_config UUID:TYPE ...: the desired state, replaced atomically so the file watcher never
# sees half a file. INTERVAL (default 2s) sets the interval.
write_config() {
    {
        printf 'settings:\n  interval: %s\n  prune: owned\n' "${INTERVAL:-2s}"
        if [ $# -eq 0 ]; then echo 'vgpus: []'; else echo 'vgpus:'; fi
        local entry
        for entry in "$@"; do
            printf '  - uuid: %s\n    type: %s\n    parent: mtty\n' "${entry%%:*}" "${entry#*:}"
        done
    } > "$CFG.new"
    mv "$CFG.new" "$CFG"
}

manager_prop() { busctl --json=short get-property "${MANAGER[@]}" "$1" | jq -r .data; }
reconcile() { busctl call "${MANAGER[@]}" Reconcile; }
list_vgpus() { busctl --json=short call "${MANAGER[@]}" ListVGpus | jq -c '.data[0][]'; }
plan() { busctl --json=short call "${MANAGER[@]}" Plan | jq -c '.data[0][]'; }

# ---- passes -----------------------------------------------------------------------------------
# A check that nothing happened proves first that gvtd looked: it waits for passes that began after
# the change to end. Every pass ends by setting LastReconcile (refused ones, on a broken file, too),
# and nothing else sets it; passes never overlap. So of the ends seen after pass_mark, all but the
# first belong to passes that began after it (the first may have been under way). A change missed
# between two looks only makes the count lower, never higher.
pass_mark() {
    manager_prop LastReconcile > "$WORK/pass-last" || fail "cannot read LastReconcile"
    echo 0 > "$WORK/pass-ends"
}
# passes_since_mark: how many passes that began after pass_mark have ended (so far as seen).
passes_since_mark() {
    local now ends
    ends=$(cat "$WORK/pass-ends")
    if now=$(manager_prop LastReconcile 2> /dev/null) && [ -n "$now" ] && [ "$now" != "$(cat "$WORK/pass-last")" ]; then
        ends=$(( ends + 1 ))
        echo "$now" > "$WORK/pass-last"
        echo "$ends" > "$WORK/pass-ends"
    fi
    echo $(( ends > 0 ? ends - 1 : 0 ))
}
# after_passes N WHAT: returns once N passes that began after this call have ended (with a 2 s
# interval: about N + 1 intervals). Where the interval is long, reconcile (which returns once a
# pass begun after the call has ended) is the way to make one.
after_passes() {
    pass_mark
    wait_until "$1 pass(es) that began after $2 have ended" eval "[ \"\$(passes_since_mark)\" -ge $1 ]"
}

# reconcile_logged: a Reconcile call, and then its pass's "Pass (...)" line in the log, which gvtd
# writes a little behind the pass (the sourcing script defines gvtd_log_text).
reconcile_logged() {
    local before
    before=$(gvtd_log_text | grep -c "Pass (.*Reconcile request" || true)
    reconcile > /dev/null
    wait_until "the Reconcile call's pass is in the log" \
        eval '[ "$(gvtd_log_text | grep -c "Pass (.*Reconcile request" || true)" -gt '"$before"' ]'
}

# remove_burst DEVICE...: removes each device by hand, as fast as the shell goes, and prints how
# many passes gvtd may take to bring them back. gvtd starts a pass once no event came for 150 ms,
# or after 1 s of events: removals within 150 ms of each other over L ms may take 1 + ceil(L / 1 s)
# passes, each slower gap between two removals one more, and the last removal's events one more
# if they arrive as a pass begins. Under TCG on a busy host the shell can be slow; the bound
# follows it, so the verdict is "coalesced", not "fast".
remove_burst() {
    local d t start last=0 gaps=0
    start=$(now_ms)
    for d in "$@"; do
        echo 1 > "$MDEV/$d/remove"
        t=$(now_ms)
        if [ "$last" -gt 0 ] && [ $(( t - last )) -gt 150 ]; then gaps=$(( gaps + 1 )); fi
        last=$t
    done
    echo $(( 2 + gaps + (last - start + 999) / 1000 ))
}

# passes_until_created N (the log since a mark on stdin): how many passes it took for the created
# counts of their "Pass (...)" lines to add up to N; nothing if they never do.
passes_until_created() {
    awk -v want="$1" '/Pass \(/ { passes++; if (match($0, /: created [0-9]+,/)) { n = substr($0, RSTART + 10, RLENGTH - 11); made += n } if (made >= want) { print passes; exit } }'
}

# vgpu_prop UUID PROPERTY: a property of the vGPU's own object, found through ListVGpus.
vgpu_prop() {
    local path
    path=$(list_vgpus | jq -r --arg u "$1" 'select(.[0] == $u) | .[5]')
    [ -n "$path" ] || { echo "(no object)"; return 0; }
    busctl --json=short get-property org.gvtd.Gvtd1 "$path" org.gvtd.Gvtd1.VGpu "$2" | jq -r .data
}

# ---- runner -----------------------------------------------------------------------------------

# run_scenario NAME FUNCTION: one PASS/FAIL line; a failure's reason is what fail() said, or the
# command that failed.
run_scenario() {
    local name=$1 fn=$2 start rc
    rm -f "$WORK/why" "$WORK/answer-times" "$WORK/bus-times"
    start=$(now_ms)
    log "=== $name" >> "$RESULTS/guest.log"
    set +e
    (
        set -euo pipefail
        trap '[ -e "$WORK/why" ] || echo "command failed: $BASH_COMMAND" > "$WORK/why"' ERR
        "$fn"
    ) >> "$RESULTS/guest.log" 2>&1
    rc=$?
    set -e
    if declare -F stop_holder > /dev/null; then stop_holder; fi
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name" >> "$RESULTS/results.txt"
    else
        echo "FAIL $name: $(cat "$WORK/why" 2>/dev/null || echo "exited with $rc")" >> "$RESULTS/results.txt"
    fi
    echo "$name=$(( $(now_ms) - start ))" >> "$RESULTS/timings.txt"
}

