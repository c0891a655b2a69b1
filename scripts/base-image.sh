#!/usr/bin/env bash
# Makes sure the image debian:bookworm-slim exists locally: present, pulled, or (where no
# registry can be reached) built with mmdebstrap from Debian's mirror and imported.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
IMAGE="${1:-debian:bookworm-slim}"
if docker image inspect "$IMAGE" >/dev/null 2>&1; then exit 0; fi
log "pulling $IMAGE"
if timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then exit 0; fi
log "no registry: building $IMAGE with mmdebstrap"
ensure_apt mmdebstrap
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mmdebstrap --variant=minbase --quiet \
    --include=ca-certificates \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm - "$MIRROR" "deb $MIRROR bookworm-updates main" "deb http://deb.debian.org/debian-security bookworm-security main" \
  | docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$IMAGE" >/dev/null
docker image inspect "$IMAGE" >/dev/null
log "built $IMAGE"
