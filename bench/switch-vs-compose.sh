#!/usr/bin/env bash
# A dev -> prod switch of the running lab stack (images of both environments built), until
# every service of prod is ready:
#   bench/switch-vs-compose.sh ours     sirius-deck switch prod --no-backup: preflight, target
#                                       proof of every image, the services that differ between
#                                       dev and prod recreated in dependency order while the
#                                       others keep running, drift check of every container
#   bench/switch-vs-compose.sh full     the same with --full-restart: dev down in reverse order,
#                                       prod up (the switch before services were kept)
#   bench/switch-vs-compose.sh compose  Docker Compose 2.26 (`$COMPOSE_V2`): -f base -f prod
#                                       up -d --wait over the running dev stack
# Each run first brings dev up (not timed: the same for all three, run by this script before the
# clock starts) and then times only the switch, appended (ms) to
# bench/results/switch-<which>.txt; time the whole command with any benchmark tool, e.g.
#   hyperfine 'bench/switch-vs-compose.sh ours' 'bench/switch-vs-compose.sh compose'
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DECK="$ROOT/target/release/sirius-deck"
which="${1:?usage: $0 ours|full|compose}"
source "$ROOT/scripts/lib.sh" >/dev/null
ensure_compose_v2 >/dev/null
LAB="$("$DECK" stacks | awk -F'\t' '$1 ~ /^sirius-lab/ {sub("project: ", "", $4); print $4}')"
mkdir -p "$ROOT/bench/results"

# Set-up, not timed: dev running.
"$DECK" --stack sirius-lab --env dev up >/dev/null 2>&1 || {
    "$DECK" --stack sirius-lab down >/dev/null 2>&1
    "$DECK" --stack sirius-lab --env dev up >/dev/null 2>&1
}

start=$(date +%s%N)
case "$which" in
    ours) "$DECK" --stack sirius-lab switch prod --no-backup >/dev/null 2>&1 ;;
    full) "$DECK" --stack sirius-lab switch prod --no-backup --full-restart >/dev/null 2>&1 ;;
    compose)
        "$COMPOSE_V2" -p sirius-lab --project-directory "$LAB" -f "$LAB/docker-compose.yaml" \
            -f "$LAB/docker-compose.prod.yaml" up -d --wait >/dev/null 2>&1
        ;;
    *) echo "usage: $0 ours|full|compose" >&2; exit 2 ;;
esac
end=$(date +%s%N)
echo "$(( (end - start) / 1000000 ))" >> "$ROOT/bench/results/switch-$which.txt"
