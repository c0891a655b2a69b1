#!/usr/bin/env bash
# Builds the installable package: target/release/bundle/deb/Sirius Deck_<version>_amd64.deb (the
# window, with its icon, desktop entry and dependencies declared by the Tauri bundler, and the
# `sirius-deck` command line in /usr/bin). Prints the package's path.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup
build_ui
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
log "building the command line"
cargo build --release --locked -p sirius-deck --manifest-path "$ROOT/Cargo.toml"
log "building the window and its package"
# The bundler is off for ordinary builds; here it makes the .deb, with the CLI beside the app.
config=$(printf '{"bundle":{"active":true,"targets":["deb"],"linux":{"deb":{"files":{"/usr/bin/sirius-deck":"%s"}}}}}' "$TARGET/release/sirius-deck")
(cd "$ROOT/src-tauri" && "$ROOT/ui/node_modules/.bin/tauri" build --bundles deb --config "$config" >&2)
ls "$TARGET"/release/bundle/deb/*.deb
