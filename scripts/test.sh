#!/usr/bin/env bash
# Sets up what is missing and runs every test: formatting, clippy (warnings are errors),
# unit and integration tests (including those against a real Docker engine).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup
cd "$ROOT"
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
log "Docker engine and base image for the end-to-end tests"
ensure_docker
"$ROOT/scripts/base-image.sh"
log "cargo test"
cargo test --locked --workspace
