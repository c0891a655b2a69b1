#!/usr/bin/env bash
# Sets up what is missing and runs Sirius Deck on its built-in default stack profile.
# Any arguments are passed to sirius-deck (default: `up`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup
ensure_docker
"$ROOT/scripts/base-image.sh"
log "building sirius-deck"
cargo build --release --locked -p sirius-deck --manifest-path "$ROOT/Cargo.toml"
if [ $# -eq 0 ]; then set -- up; fi
exec "$ROOT/target/release/sirius-deck" "$@"
