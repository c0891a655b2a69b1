#!/usr/bin/env bash
# Sets up what is missing and opens Sirius Deck on its built-in default stack profile.
# With arguments, runs the `sirius-deck` command line instead (e.g. `./scripts/run.sh ps`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup
ensure_docker
"$ROOT/scripts/base-image.sh"
if [ $# -gt 0 ]; then
    cargo build --release --locked -p sirius-deck --manifest-path "$ROOT/Cargo.toml"
    exec "$ROOT/target/release/sirius-deck" "$@"
fi
build_ui
log "building the app"
cargo build --release --locked -p sirius-deck-app --manifest-path "$ROOT/Cargo.toml"
ensure_display
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && command -v dbus-run-session >/dev/null; then
    exec dbus-run-session -- "$ROOT/target/release/sirius-deck-app"
fi
exec "$ROOT/target/release/sirius-deck-app"
