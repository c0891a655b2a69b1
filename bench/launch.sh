#!/usr/bin/env bash
# Launch time of the window: from the process's start to its first drawn diagram (the page
# reports it once the frame that shows the diagram is drawn; the app prints the moment), under
# Xvfb on the lab stack, RUNS times cold (the page cache dropped first: needs root) and RUNS
# times warm; prints each and the medians. Beside each run, the same for the floor: the empty
# Tauri window of bench/idle.sh (one static page on the same WebKitGTK), to its first frame.
# Before them, the app's first start on the stack (in a fresh data folder: no window size and no
# layout remembered), timed once. After each mode, the median of each step of the app's page
# (as the app prints them: its HTML received, its scripts run, the stacks listed, the first one
# opened, the diagram laid out; milliseconds after the app's main() started, which the app
# measures from, while the totals here run from before the exec).
#
#   bench/launch.sh [RUNS]   (default 5; build first: cargo build --release -p sirius-deck-app -p empty-window)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP="${APP:-${CARGO_TARGET_DIR:-$ROOT/target}/release/sirius-deck-app}"
FLOOR="${CARGO_TARGET_DIR:-$ROOT/target}/release/empty-window"
runs="${1:-5}"
for b in "$APP" "$FLOOR"; do
    [ -x "$b" ] || { echo "build it first: cargo build --release -p sirius-deck-app -p empty-window" >&2; exit 1; }
done
[ -w /proc/sys/vm/drop_caches ] || { echo "the cold runs drop the page cache: run this as root" >&2; exit 1; }
n=97; while [ -e "/tmp/.X11-unix/X$n" ]; do n=$((n + 1)); done
Xvfb ":$n" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 & xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
data="$(mktemp -d)"
out="$(mktemp)"
steps="$(mktemp)"

once() { # cold|warm [S] [BINARY]: prints the milliseconds from exec to the first drawn diagram
    # (and lets the window live S seconds more, so that what it remembers is written)
    [ "$1" = cold ] && { sync; echo 3 > /proc/sys/vm/drop_caches; }
    local start line
    start=$(date +%s%3N)
    DISPLAY=":$n" XDG_DATA_HOME="$data" SIRIUS_DECK_STACK=sirius-lab SIRIUS_DECK_ENV=dev NO_AT_BRIDGE=1 \
        setsid "${3:-$APP}" >"$out" 2>&1 & local pid=$!
    trap "kill -- -$pid 2>/dev/null || true" EXIT # this runs in a subshell of its own
    for _ in $(seq 300); do
        line=$(grep -o 'unix ms [0-9]*' "$out" || true)
        [ -n "$line" ] && break
        sleep 0.1
    done
    sleep "${2:-0}"
    kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [ -n "$line" ] || { echo "no diagram drawn within 30 s:" >&2; cat "$out" >&2; exit 1; }
    sed -n "s/.*the page's start (ms): //p" "$out" >>"$steps"
    echo $(( ${line#unix ms } - start ))
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# The first start on a stack has nothing remembered: it lays the diagram out (ELK, in a worker),
# and the page keeps the layout for the next starts (localStorage, written within a second or so).
printf 'first start: %s ms\n' "$(once warm 3)"
for mode in cold warm; do
    app=() floor=()
    : >"$steps"
    for _ in $(seq "$runs"); do
        app+=("$(once $mode)")
        floor+=("$(once $mode 0 "$FLOOR")")
    done
    printf '%s: app %s ms, median %s ms; empty window %s ms, median %s ms\n' "$mode" \
        "${app[*]}" "$(printf '%s\n' "${app[@]}" | median)" "${floor[*]}" "$(printf '%s\n' "${floor[@]}" | median)"
    python3 -c '
import statistics, sys
runs = [dict(s.rsplit(" ", 1) for s in l.strip().split(", ")) for l in sys.stdin if l.strip()]
names = [n for n in runs[0] if all(n in r for r in runs)] if runs else []
print("  the app'"'"'s page, median ms after start: " + ", ".join(f"{n} {statistics.median(int(r[n]) for r in runs):.0f}" for n in names))' <"$steps"
done
