#!/usr/bin/env bash
# Sets up what is missing and opens Sirius Deck on its built-in default stack profile.
# With arguments, runs the `sirius-deck` command line instead (e.g. `./scripts/run.sh ps`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup
ensure_docker
"$ROOT/scripts/base-image.sh"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
if [ $# -gt 0 ]; then
    cargo build --release --locked -p sirius-deck --manifest-path "$ROOT/Cargo.toml"
    exec "$BIN/sirius-deck" "$@"
fi
build_ui
log "building the app"
cargo build --release --locked -p sirius-deck-app --manifest-path "$ROOT/Cargo.toml"
ensure_display
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && command -v dbus-run-session >/dev/null; then
    exec dbus-run-session -- "$BIN/sirius-deck-app"
fi
exec "$BIN/sirius-deck-app"
