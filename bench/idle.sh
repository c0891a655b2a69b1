#!/usr/bin/env bash
# What an open window costs while nothing happens: Sirius Deck on the running lab stack against
# an empty Tauri 2 window (bench/empty-window: one static page, same WebKitGTK), side by side in
# one run, each under its own Xvfb (1280x860).
#
#   bench/idle.sh [--minutes M] [--sample S]
#
# First each window alone, one after the other: its PSS after 15 s (what it costs as the only
# WebKit window, which the 1.1x aim compares). Then both start together and settle for 15 s;
# then, for each, over S seconds (default 30):
#   visible  the window mapped;
#   hidden   the window unmapped (as when minimised: WebKit's page turns hidden);
#   later    visible again M minutes after the start (default 0: skipped), where a leak shows.
# Memory is the proportional set size (PSS, /proc/PID/smaps_rollup) summed over the process tree
# (the app and WebKit's processes), with the RSS sum beside it (which counts shared libraries
# once per process); CPU is the tree's ticks over the S seconds, in percent of one core.
# Build first: cargo build --release -p sirius-deck-app -p empty-window; bring the lab stack up
# (scripts/run.sh up). Needs xdotool (installed when missing). APP=path measures another build
# of the app (an older one, for a before and after).
#
#   bench/idle.sh watch [S]   the incident watcher alone (`sirius-deck watch --notify`): RSS and CPU
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib.sh"
source "$ROOT/bench/lib.sh"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
SETTLE=15
minutes=0
sample=30
cleanup=() # each process started here, with its descendants (dbus-run-session leaves its child running)
trap 'for p in "${cleanup[@]}"; do kill $(pids "$p") 2>/dev/null || true; done' EXIT

pids() { # the process and every descendant
    local all=("$1") i=0
    while [ $i -lt ${#all[@]} ]; do
        for c in $(pgrep -P "${all[$i]}" || true); do all+=("$c"); done
        i=$((i + 1))
    done
    echo "${all[@]}"
}
ticks() { local t=0 p v; for p in $(pids "$1"); do v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true); t=$((t + ${v:-0})); done; echo $t; }
kib() { # sum of a /proc/PID/$2 field ($3) over the tree, in KiB
    local k=0 p v
    for p in $(pids "$1"); do
        v=$(awk -v f="$3" '$1 == f {print $2}' "/proc/$p/$2" 2>/dev/null || true)
        k=$((k + ${v:-0}))
    done
    echo $k
}
cpu() { awk -v d="$1" -v hz="$(getconf CLK_TCK)" -v s="$sample" 'BEGIN { printf "%.2f", 100 * d / hz / s }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

if [ "${1:-}" = watch ]; then
    sample="${2:-60}"
    bin="$TARGET/sirius-deck"
    [ -x "$bin" ] || { echo "build it first: cargo build --release -p sirius-deck" >&2; exit 1; }
    dbus-run-session -- "$bin" --stack sirius-lab watch --notify >/dev/null 2>&1 & pid=$!
    cleanup+=($pid)
    sleep $SETTLE
    t0=$(ticks $pid); sleep "$sample"; t1=$(ticks $pid)
    echo "watch: rss_mib=$(mib "$(kib $pid status VmRSS:)") cpu_percent=$(cpu $((t1 - t0)))"
    exit 0
fi
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes="$2"; shift 2 ;;
        --sample) sample="$2"; shift 2 ;;
        *) echo "usage: $0 [--minutes M] [--sample S] | watch [S]" >&2; exit 2 ;;
    esac
done
APP="${APP:-$TARGET/sirius-deck-app}"
for b in "$APP" "$TARGET/empty-window"; do
    [ -x "$b" ] || { echo "build it first: cargo build --release -p sirius-deck-app -p empty-window" >&2; exit 1; }
done
ensure_apt xdotool
[ "$(lab_ready_count)" -eq 7 ] || echo "warning: the lab stack is not up (scripts/run.sh up): the app idles on a stack that is not running" >&2

declare -A pid display title
start() { # name binary title [VAR=value...]
    local n=97
    while [ -e "/tmp/.X11-unix/X$n" ]; do n=$((n + 1)); done
    Xvfb ":$n" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 & cleanup+=($!)
    for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
    display[$1]=":$n"; title[$1]="$3"
    # Its own data folder, so that a remembered window size or stack does not differ.
    env DISPLAY=":$n" XDG_DATA_HOME="$(mktemp -d)" SIRIUS_DECK_STACK=sirius-lab SIRIUS_DECK_ENV=dev "${@:4}" \
        dbus-run-session -- "$2" >/dev/null 2>&1 & pid[$1]=$!
    cleanup+=(${pid[$1]})
}
window() { DISPLAY="${display[$1]}" timeout 30 xdotool search --sync --onlyvisible --name "^${title[$1]}\$" | head -1; }
measure() { # label: samples both windows over the same $sample seconds
    local a b ta0 tb0 ta1 tb1
    ta0=$(ticks ${pid[app]}); tb0=$(ticks ${pid[empty]})
    sleep "$sample"
    ta1=$(ticks ${pid[app]}); tb1=$(ticks ${pid[empty]})
    for w in empty app; do
        [ "$w" = app ] && d=$((ta1 - ta0)) || d=$((tb1 - tb0))
        a=$(kib ${pid[$w]} smaps_rollup Pss:); b=$(kib ${pid[$w]} status VmRSS:)
        printf '| %-12s | %-22s | %7s | %7s | %6s |\n' "$w" "$1" "$(mib "$a")" "$(mib "$b")" "$(cpu $d)"
        eval "pss_${w}_$2=$a cpu_${w}_$2=$(cpu $d)"
    done
}

# Each window alone first, for its memory: side by side, the two trees share WebKit's and GTK's
# pages, and PSS splits those between them, so that each looks smaller and the ratio larger than
# what either costs where it is the only WebKit window (the issue's floor, 199 MiB, is the empty
# window alone).
alone() { # name binary title [VAR=value...]
    local tree
    start "$@"
    sleep $SETTLE
    eval "alone_$1=$(kib ${pid[$1]} smaps_rollup Pss:)"
    # The resident part of the binary's own code (its executable mapping; the process is the child
    # of dbus-run-session that runs it).
    local own
    own=$(pgrep -P "${pid[$1]}" -x "$(basename "$2" | cut -c1-15)" | head -1)
    eval "code_$1=$(awk -v b="$(readlink -f "$2")" '/^[0-9a-f]+-/ { x = ($2 ~ /x/ && $6 == b) }
        x && /^Rss:/ { k += $2 } END { print k + 0 }' "/proc/$own/smaps")"
    tree=$(pids ${pid[$1]})
    kill $tree 2>/dev/null || true
    for p in $tree; do while kill -0 "$p" 2>/dev/null; do sleep 0.2; done; done
}
# The empty window runs WebKit as the app does (the app turns GL compositing and the memory
# pressure monitor off for itself, see src-tauri/src/main.rs), so that the two differ only in
# what they show.
empty=("$TARGET/empty-window" "Empty Window" WEBKIT_DISABLE_COMPOSITING_MODE=1 WEBKIT_DISABLE_MEMORY_PRESSURE_MONITOR=1)
alone empty "${empty[@]}"
alone app "$APP" "Sirius Deck"
echo "PSS alone, after ${SETTLE} s: the app $(mib "$alone_app") MiB, the empty window $(mib "$alone_empty") MiB"
# The app's code that starts and idles is linked first (src-tauri/hot-code.txt, src-tauri/build.rs);
# the list goes stale as the code changes, and this is where it shows.
hot="$ROOT/src-tauri/hot-code.txt"
found=$(nm --defined-only "$APP" 2>/dev/null | awk '{ print $3 }' | sort -u | comm -12 - <(sort -u "$hot") | wc -l)
echo "own code resident: the app $(mib "$code_app") MiB, the empty window $(mib "$code_empty") MiB; hot-code.txt: $found of $(wc -l <"$hot") functions found by exact name in this build (when that falls, or the code resident grows, rerun scripts/hot-code.sh)"
start empty "${empty[@]}"
start app "$APP" "Sirius Deck"
began=$(date +%s)
sleep $SETTLE
echo "| window       | when                   | PSS MiB | RSS MiB | CPU %  |"
echo "|--------------|------------------------|---------|---------|--------|"
measure "visible, after ${SETTLE} s" visible
declare -A win
for w in empty app; do win[$w]=$(window $w); DISPLAY="${display[$w]}" xdotool windowunmap "${win[$w]}"; done
sleep 2
measure "hidden" hidden
for w in empty app; do DISPLAY="${display[$w]}" xdotool windowmap "${win[$w]}"; done
if [ "$minutes" -gt 0 ]; then
    left=$((began + minutes * 60 - $(date +%s)))
    [ $left -gt 0 ] && sleep $left
    measure "visible, after ${minutes} min" later
fi
awk -v la="$alone_app" -v le="$alone_empty" -v pa="$pss_app_visible" -v pe="$pss_empty_visible" \
    -v ca="$cpu_app_visible" -v ce="$cpu_empty_visible" -v ha="$cpu_app_hidden" -v he="$cpu_empty_hidden" 'BEGIN {
    printf "PSS, each alone: the app %.2fx the empty window (aim: at most 1.1x)\n", la / le
    printf "PSS, side by side: the app %.2fx the empty window\n", pa / pe
    printf "CPU visible: the app %+.2f points against the empty window (aim: at most +0.10)\n", ca - ce
    printf "CPU hidden: the app %+.2f points against the empty window (aim: 0)\n", ha - he
}'
if [ "$minutes" -gt 0 ]; then
    awk -v a="$pss_app_visible" -v b="$pss_app_later" -v m="$minutes" \
        'BEGIN { printf "PSS of the app after %d min: %+.1f%% (aim: under +5%%)\n", m, 100 * (b - a) / a }'
fi
