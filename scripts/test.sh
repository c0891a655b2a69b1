#!/usr/bin/env bash
# Sets up what is missing and runs every test: formatting, clippy (warnings are errors), the
# UI's type check and component tests, unit and integration tests, and the end-to-end tests
# against a real Docker engine and the real window.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup
cd "$ROOT"
# A one-off build (CI, a fresh clone) gains nothing from incremental data but its disk space.
[ -n "${CI:-}" ] && export CARGO_INCREMENTAL=0
free_gib=$(( $(df -Pk . | awk 'NR==2 {print $4}') / 1048576 ))
if [ "$free_gib" -lt 12 ]; then
    echo "warning: only ${free_gib} GiB free on $(df -P . | awk 'NR==2 {print $6}'): the build and the" \
        "test images need about 12 GiB; free some space if the build fails while linking" >&2
fi
if ! command -v tauri-driver >/dev/null; then
    log "installing tauri-driver"
    cargo install tauri-driver --locked --version '^2'
fi
log "cargo fmt --check"
cargo fmt --all -- --check
build_ui
log "UI component tests"
(cd ui && npm test --silent)
log "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
log "Docker engine and base image for the end-to-end tests"
ensure_docker
"$ROOT/scripts/base-image.sh"
log "building the app for the window tests"
cargo build --locked -p sirius-deck-app
ensure_compose_v2
log "building the tests"
cargo test --locked --workspace --no-run
test_bin() {
    cargo test --locked -p deck-tests --test "$1" --no-run --message-format=json |
        python3 -c 'import json, sys; print(*[m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")])'
}
crash_bin="$(test_bin crash)"
app_bin="$(test_bin app)"
# The crash matrix (its ten tests at once, each on a project or engine of its own) runs beside
# the other tests, which take the lab stack one at a time and leave the cores idle while they
# wait on it.
mkdir -p "$ROOT/artifacts"
crash_log="$ROOT/artifacts/crash-tests.log"
log "the crash matrix (tests/crash.rs), beside the other tests: its output goes to $crash_log"
# Its share of the CPU: a cgroup of its own (its commands, the engines it starts and their
# containers) at a quarter of the weight of the others. On two cores, its churn of containers
# would otherwise starve the lab stack's health checks, which must pass within their timeouts;
# the matrix has no timing to keep, and takes the cores whenever the other tests wait.
crash_cgroup=/sirius-deck-crash-tests
if ! { [ -d /sys/fs/cgroup/cpu ] && mkdir -p "/sys/fs/cgroup/cpu$crash_cgroup" 2>/dev/null &&
    echo 256 >"/sys/fs/cgroup/cpu$crash_cgroup/cpu.shares"; }; then
    log "no cgroup v1 cpu controller to write: the crash matrix runs at the weight of the other tests"
    crash_cgroup=
fi
# (In a process group of its own: when the other tests fail, it ends with its engines.)
(
    cd "$ROOT/tests"
    if [ -n "$crash_cgroup" ]; then
        echo $BASHPID >"/sys/fs/cgroup/cpu$crash_cgroup/cgroup.procs"
        # (The engines it starts put their containers there too: tests/own_engine.rs.)
        export SIRIUS_DECK_TEST_CGROUP="$crash_cgroup"
    fi
    exec setsid -w "$crash_bin" --test-threads=10
) >"$crash_log" 2>&1 &
crash_pid=$!
trap 'kill -- -$crash_pid 2>/dev/null || true' EXIT
log "cargo test"
cargo test --locked --workspace
log "waiting for the crash matrix"
crash_status=0
wait $crash_pid || crash_status=$?
trap - EXIT
cat "$crash_log"
if [ $crash_status -ne 0 ]; then
    echo "the crash matrix failed (exit status $crash_status): its output is above" >&2
    exit 1
fi
# The window test measures how soon the window shows what the core says (within 500 ms): it
# runs alone, on cores the crash matrix no longer saturates.
log "the window test (tests/app.rs), alone"
(cd "$ROOT/tests" && exec "$app_bin")
log "the TypeScript bindings, the command list and the window's capability match the Rust code"
generated=(ui/src/bindings src-tauri/capabilities)
if [ -d .git ] && [ -n "$(git status --porcelain -- "${generated[@]}")" ]; then
    git status --porcelain -- "${generated[@]}"
    echo "${generated[*]} are stale: commit what cargo test generated" >&2
    exit 1
fi
