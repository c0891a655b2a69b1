#!/usr/bin/env bash
# A dev -> prod switch of the running lab stack (images of both environments built), until
# every service of prod is ready:
#   bench/switch-vs-compose.sh ours     sirius-deck switch prod --no-backup (preflight, target
#                                       proof of every image, down in reverse order, up with
#                                       fast readiness, drift check of every container)
#   bench/switch-vs-compose.sh theirs   docker-compose -f base -f dev down, then -f base -f prod
#                                       up -d, then wait until every health check reports
#                                       healthy and the migration has exited 0
# Each run first brings dev up (not timed: it is the same command for both, run by this script
# before the clock starts) and then times only the switch. The switch-only time is appended to
# bench/results/switch-<which>.txt; time the whole command with any tool (hyperfine,
# /usr/bin/time) to include the set-up.
#
# Debian's docker-compose (1.29) rejects the top-level `name:` key, so it reads a copy of the
# base file without that line, with -p sirius-lab.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DECK="$ROOT/target/release/sirius-deck"
which="${1:?usage: $0 ours|theirs}"
LAB="$("$DECK" stacks | awk -F'\t' '$1 ~ /^sirius-lab/ {sub("project: ", "", $4); print $4}')"
mkdir -p "$ROOT/bench/results"

source "$ROOT/bench/lib.sh"

# Set-up, not timed: dev running.
ids="$(docker ps -aq --filter label=com.docker.compose.project=sirius-lab)"
if [ -n "$ids" ]; then docker rm -f $ids >/dev/null; fi
"$DECK" --stack sirius-lab --env dev up >/dev/null 2>&1

base="$(mktemp --suffix=.yaml)"
trap 'rm -f "$base"' EXIT
sed '/^name: sirius-lab$/d' "$LAB/docker-compose.yaml" > "$base"
compose() { docker-compose -p sirius-lab --project-directory "$LAB" -f "$base" "$@"; }

start=$(date +%s%N)
case "$which" in
    ours)
        "$DECK" --stack sirius-lab switch prod --no-backup >/dev/null 2>&1
        ;;
    theirs)
        compose -f "$LAB/docker-compose.dev.yaml" down >/dev/null 2>&1
        compose -f "$LAB/docker-compose.prod.yaml" up -d >/dev/null 2>&1
        until [ "$(lab_ready_count)" -eq 7 ]; do sleep 0.2; done
        ;;
    *) echo "usage: $0 ours|theirs" >&2; exit 2 ;;
esac
end=$(date +%s%N)
echo "$(( (end - start) / 1000000 ))" >> "$ROOT/bench/results/switch-$which.txt"
