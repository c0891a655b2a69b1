# Shared by the project's scripts: install what is missing, start what is needed.
# Everything here is idempotent: a second run installs nothing and starts nothing.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages the project needs (see README "What gets installed"): the engine and base
# image tools; the SSH client and openssl (remote engines: the remote test's keys and
# certificates); WebKitGTK and friends for the Tauri window; Xvfb, D-Bus, WebKitWebDriver,
# ImageMagick and xdotool (hides the window) for the end-to-end tests of the real window.
APT_PACKAGES=(docker.io mmdebstrap docker-compose openssh-client openssl
    build-essential pkg-config libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev
    xvfb xauth dbus-x11 dunst webkit2gtk-driver imagemagick xdotool)

ensure_apt() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
}

ensure_rust() {
    if ! command -v cargo >/dev/null; then
        echo "cargo is not installed: install Rust from https://rustup.rs, then run this again" >&2
        exit 1
    fi
    local have
    have="$(rustup component list --installed 2>/dev/null || true)"
    for c in rustfmt clippy; do
        if ! grep -q "^$c" <<<"$have" && ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
            rustup component add "$c"
        fi
    done
}

# Starts dockerd when no engine answers (CI machines and fresh boxes have none running).
ensure_docker() {
    if docker info >/dev/null 2>&1; then return 0; fi
    log "starting dockerd"
    as_root mkdir -p /var/log
    # (Appended to: what an engine said before it was started again stays to read.)
    (as_root nohup dockerd >>/var/log/sirius-deck-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && return 0
        sleep 1
    done
    echo "dockerd did not start; see /var/log/sirius-deck-dockerd.log" >&2
    exit 1
}

ensure_node() {
    command -v npm >/dev/null || ensure_apt nodejs npm
}

# What the UI's build is made from, as one hash: its sources, its page, its configuration and
# its locked dependencies.
ui_sources_hash() {
    (cd "$ROOT/ui" && find src index.html package.json package-lock.json tsconfig.json vite.config.ts -type f -print0 |
        sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

# The UI: dependencies from the lock file, then the production build that the app embeds; only
# when its sources changed since the last build (an unchanged ui/dist leaves the app's build
# nothing to redo).
build_ui() {
    # The stamp lives beside the dependencies (not in ui/dist, which the app embeds whole).
    local stamp="$ROOT/ui/node_modules/.sirius-deck-ui-build" hash
    hash="$(ui_sources_hash)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] && [ -f "$ROOT/ui/dist/index.html" ]; then
        log "the UI is up to date"
        return 0
    fi
    log "building the UI"
    (cd "$ROOT/ui" && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build --silent)
    echo "$hash" >"$stamp"
}

# Starts an X server when there is no display (headless machines, CI).
ensure_display() {
    if [ -n "${DISPLAY:-}" ]; then return 0; fi
    local n=95
    while [ -e "/tmp/.X11-unix/X$n" ]; do n=$((n + 1)); done
    log "no display: starting Xvfb on :$n"
    (Xvfb ":$n" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 &)
    for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
    export DISPLAY=":$n"
}

# The real Docker Compose v2 (2.26, compose-go inside), the oracle of the compose fidelity tests
# and the peer of the benchmarks: Debian 13's docker-compose package, fetched with apt from the
# mirror this machine already uses through a temporary sources list (suite trixie, that one
# package only; the system is not upgraded) and unpacked with dpkg-deb into a cache folder.
# Exports COMPOSE_V2, the path of the binary.
COMPOSE_V2_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/sirius-deck/compose-v2"
export COMPOSE_V2="$COMPOSE_V2_DIR/docker-compose"
ensure_compose_v2() {
    if [ -x "$COMPOSE_V2" ]; then return 0; fi
    log "fetching Docker Compose v2 (Debian 13's docker-compose package) into $COMPOSE_V2_DIR"
    local tmp mirror
    tmp="$(mktemp -d)"
    mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
        grep -oE '^(URIs:|deb) +(\[[^]]*\] +)?https?://[^ ]+/debian/?( |$)' | grep -oE 'https?://[^ ]+' | head -1 || true)"
    mirror="${mirror:-http://deb.debian.org/debian}"
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$tmp/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
    apt-get "${opts[@]}" -q update >/dev/null
    (cd "$tmp" && apt-get "${opts[@]}" -q download docker-compose >/dev/null)
    dpkg-deb -x "$tmp"/docker-compose_*.deb "$tmp/root"
    mkdir -p "$COMPOSE_V2_DIR"
    install -m 0755 "$tmp/root/usr/libexec/docker/cli-plugins/docker-compose" "$COMPOSE_V2"
    rm -rf "$tmp"
    "$COMPOSE_V2" version
}

setup() {
    ensure_apt "${APT_PACKAGES[@]}"
    ensure_rust
    ensure_node
}
