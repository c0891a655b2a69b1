#!/usr/bin/env bash
# Writes src-tauri/hot-code.txt: the functions of the window's binary that run while it starts on
# a stack and then sits idle, one (mangled) symbol a line. The release link places them first and
# together (src-tauri/build.rs writes the linker script), so the code an open window keeps
# resident is those pages, not the whole binary: the kernel maps code in 64-KiB windows around
# each page it runs, and with the hot functions spread over 13 MB of code, 10 MiB of it stayed
# resident for 3 MB that ran.
#
#   scripts/hot-code.sh [SECONDS]   (default 60: how long the window idles after its first diagram)
#
# It runs the release build under valgrind's callgrind (installed when missing) on the lab stack,
# which must be up (scripts/run.sh up), on its own Xvfb, with a fresh data folder (the first start:
# the layout is computed, then remembered). Rerun it when the start or the idle path changes much:
# a function missing from the list still works, it is only placed with the cold code.
set -euo pipefail
export LC_ALL=C # one sort order for comm, and the same list on every machine
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib.sh"
APP="${CARGO_TARGET_DIR:-$ROOT/target}/release/sirius-deck-app"
idle="${1:-60}"
[ -x "$APP" ] || { echo "build it first: cargo build --release -p sirius-deck-app" >&2; exit 1; }
ensure_apt valgrind
work="$(mktemp -d)"
n=97; while [ -e "/tmp/.X11-unix/X$n" ]; do n=$((n + 1)); done
Xvfb ":$n" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 & xvfb=$!
trap 'pkill -f "callgrind-out-file=$work/" 2>/dev/null || true; sleep 1; kill $xvfb 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
DISPLAY=":$n" XDG_DATA_HOME="$work/data" SIRIUS_DECK_STACK=sirius-lab SIRIUS_DECK_ENV=dev NO_AT_BRIDGE=1 \
    dbus-run-session -- valgrind --tool=callgrind --demangle=no --dump-instr=no --compress-strings=no \
    --callgrind-out-file="$work/callgrind.out" "$APP" >"$work/log" 2>&1 &
echo "the window starts under callgrind (about 30 s) ..." >&2
for _ in $(seq 300); do grep -q 'first diagram drawn' "$work/log" && break; sleep 1; done
grep -q 'first diagram drawn' "$work/log" || { echo "no diagram drawn within 5 minutes:" >&2; tail -20 "$work/log" >&2; exit 1; }
echo "drawn; idle for $idle s ..." >&2
sleep "$idle"
# The counts so far, to callgrind.out.1 (the process under valgrind, not dbus-run-session above it).
callgrind_control --dump "$(pgrep -f "^[^ ]*valgrind[^ ]* .*callgrind-out-file=$work/")" >/dev/null 2>&1
for _ in $(seq 100); do grep -qs '^totals:' "$work/callgrind.out.1" && break; sleep 0.2; done
grep -qs '^totals:' "$work/callgrind.out.1" || { echo "callgrind wrote no counts" >&2; exit 1; }
# The functions run in the binary itself (callgrind's "ob=" names the object, "fn=" the function;
# "'2" marks a recursive cycle), kept when the binary defines them as code.
awk -v bin="$(basename "$APP")" '
    /^ob=/ { inbin = index($0, bin) > 0 }
    /^fn=/ && inbin { sub(/^fn=/, ""); sub(/\x27[0-9]+$/, ""); print }' "$work/callgrind.out.1" | sort -u >"$work/ran"
nm --defined-only "$APP" | awk '$2 ~ /^[tTwW]$/ { print $3 }' | sort -u >"$work/code"
comm -12 "$work/ran" "$work/code" >"$ROOT/src-tauri/hot-code.txt"
echo "src-tauri/hot-code.txt: $(wc -l <"$ROOT/src-tauri/hot-code.txt") functions" >&2
