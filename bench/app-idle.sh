#!/usr/bin/env bash
# Resident memory and idle CPU of the desktop app (its own process and WebKit's) with the
# lab stack running: opens the release app under Xvfb, lets it settle, then samples for
# SECONDS (default 60). Prints rss_mib (sum over the app's processes, at the end) and
# cpu_percent (of one core, averaged over the window).
#   bench/app-idle.sh [SECONDS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP="$ROOT/target/release/sirius-deck-app"
SECONDS_TO_SAMPLE="${1:-60}"
[ -x "$APP" ] || { echo "build it first: cargo build --release -p sirius-deck-app" >&2; exit 1; }
n=97; while [ -e "/tmp/.X11-unix/X$n" ]; do n=$((n + 1)); done
Xvfb ":$n" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 & xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 1
DISPLAY=":$n" SIRIUS_DECK_STACK=sirius-lab dbus-run-session -- "$APP" >/dev/null 2>&1 & app=$!
sleep 15
pids() { # the app and every descendant (WebKit's web and network processes)
    local all=("$1") i=0
    while [ $i -lt ${#all[@]} ]; do
        for c in $(pgrep -P "${all[$i]}" || true); do all+=("$c"); done
        i=$((i + 1))
    done
    echo "${all[@]}"
}
ticks() { local t=0; for p in $(pids "$app"); do [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
rss() { local k=0; for p in $(pids "$app"); do [ -r /proc/$p/status ] && k=$((k + $(awk '/^VmRSS/ {print $2}' /proc/$p/status))); done; echo $k; }
t0=$(ticks); sleep "$SECONDS_TO_SAMPLE"; t1=$(ticks)
hz=$(getconf CLK_TCK)
echo "processes: $(for p in $(pids "$app"); do printf '%s ' "$(cat /proc/$p/comm 2>/dev/null)"; done)"
echo "rss_mib=$(( $(rss) / 1024 ))"
awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$SECONDS_TO_SAMPLE" 'BEGIN { printf "cpu_percent=%.2f\n", 100 * d / hz / s }'
