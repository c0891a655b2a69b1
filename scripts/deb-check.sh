#!/usr/bin/env bash
# Installs the package (scripts/deb.sh, or the .deb given) with `apt-get install ./…deb` in a
# fresh debian:bookworm-slim container, starts the window there on an Xvfb display of this
# machine (the container shares its X socket and this machine's Docker engine), waits for the
# window and saves a screenshot of it: docs/screens/issue-17/deb-window.png (or $1's folder).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_docker
"$ROOT/scripts/base-image.sh"
DEB="$(realpath "${1:-$("$ROOT/scripts/deb.sh" | tail -1)}")"
OUT="${2:-$ROOT/docs/screens/issue-17/deb-window.png}"
NAME=sirius-deck-deb-check
n=95
while [ -e "/tmp/.X11-unix/X$n" ]; do n=$((n + 1)); done
Xvfb ":$n" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
trap 'docker rm -f $NAME >/dev/null 2>&1; kill $XVFB 2>/dev/null' EXIT
for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
docker rm -f $NAME >/dev/null 2>&1 || true
log "installing $(basename "$DEB") in a fresh debian:bookworm-slim container"
docker run -d --name $NAME \
    -v "$DEB:/tmp/sirius-deck.deb:ro" -v /tmp/.X11-unix:/tmp/.X11-unix -e DISPLAY=":$n" \
    -v /var/run/docker.sock:/var/run/docker.sock -e WEBKIT_DISABLE_COMPOSITING_MODE=1 -e NO_AT_BRIDGE=1 \
    debian:bookworm-slim sh -c 'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/sirius-deck.deb >/tmp/install.log 2>&1 || { cat /tmp/install.log; exit 1; }; echo installed; dpkg -s sirius-deck | grep -E "^(Status|Version|Depends)"; ls /usr/share/applications; sirius-deck stacks; exec sirius-deck-app' >/dev/null
for _ in $(seq 1 600); do
    if DISPLAY=":$n" xdotool search --onlyvisible --name '^Sirius Deck$' >/dev/null 2>&1; then break; fi
    if [ "$(docker inspect -f '{{.State.Running}}' $NAME)" != true ]; then docker logs $NAME; exit 1; fi
    sleep 1
done
sleep 8 # the first diagram
docker logs $NAME 2>&1 | grep -v "^\s*$" | head -20
mkdir -p "$(dirname "$OUT")"
import -display ":$n" -window root "$OUT"
log "the window of the installed package: $OUT"
