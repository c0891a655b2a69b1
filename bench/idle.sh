#!/usr/bin/env bash
# Resident memory and idle CPU of Sirius Deck with the lab stack running (bring it up first):
#   bench/idle.sh app [SECONDS]     the window (its own process and WebKit's), under Xvfb
#   bench/idle.sh watch [SECONDS]   `sirius-deck watch --notify`, the incident watcher alone
# Lets the process settle, then samples for SECONDS (default 60). Prints the processes,
# rss_mib (their sum, at the end) and cpu_percent (of one core, averaged over the window).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
what="${1:?usage: $0 app|watch [SECONDS]}"
SECONDS_TO_SAMPLE="${2:-60}"
cleanup=()
trap 'for p in "${cleanup[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
case "$what" in
    app)
        bin="$ROOT/target/release/sirius-deck-app"
        [ -x "$bin" ] || { echo "build it first: cargo build --release -p sirius-deck-app" >&2; exit 1; }
        n=97; while [ -e "/tmp/.X11-unix/X$n" ]; do n=$((n + 1)); done
        Xvfb ":$n" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 & cleanup+=($!)
        sleep 1
        DISPLAY=":$n" SIRIUS_DECK_STACK=sirius-lab dbus-run-session -- "$bin" >/dev/null 2>&1 & pid=$!
        ;;
    watch)
        bin="$ROOT/target/release/sirius-deck"
        [ -x "$bin" ] || { echo "build it first: cargo build --release -p sirius-deck" >&2; exit 1; }
        dbus-run-session -- "$bin" --stack sirius-lab watch --notify >/dev/null 2>&1 & pid=$!
        ;;
    *) echo "usage: $0 app|watch [SECONDS]" >&2; exit 2 ;;
esac
cleanup+=($pid)
sleep 15
pids() { # the process and every descendant
    local all=("$1") i=0
    while [ $i -lt ${#all[@]} ]; do
        for c in $(pgrep -P "${all[$i]}" || true); do all+=("$c"); done
        i=$((i + 1))
    done
    echo "${all[@]}"
}
ticks() { local t=0; for p in $(pids "$pid"); do [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
rss() { local k=0; for p in $(pids "$pid"); do [ -r /proc/$p/status ] && k=$((k + $(awk '/^VmRSS/ {print $2}' /proc/$p/status))); done; echo $k; }
t0=$(ticks); sleep "$SECONDS_TO_SAMPLE"; t1=$(ticks)
echo "processes: $(for p in $(pids "$pid"); do printf '%s ' "$(cat /proc/$p/comm 2>/dev/null)"; done)"
echo "rss_mib=$(( $(rss) / 1024 ))"
awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$SECONDS_TO_SAMPLE" 'BEGIN { printf "cpu_percent=%.2f\n", 100 * d / hz / s }'
