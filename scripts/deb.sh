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
cli=$(node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' "$TARGET/release/sirius-deck")
config="{\"bundle\":{\"active\":true,\"targets\":[\"deb\"],\"linux\":{\"deb\":{\"files\":{\"/usr/bin/sirius-deck\":$cli}}}}}"
(cd "$ROOT/src-tauri" && "$ROOT/ui/node_modules/.bin/tauri" build --bundles deb --config "$config" >&2)
version=$(node -p 'require(process.argv[1]).version' "$ROOT/src-tauri/tauri.conf.json")
deb="$TARGET/release/bundle/deb/Sirius Deck_${version}_amd64.deb"
[ -f "$deb" ] || { echo "the bundler made no $deb" >&2; exit 1; }
echo "$deb"
