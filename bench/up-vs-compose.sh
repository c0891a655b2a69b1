#!/usr/bin/env bash
# One cold `up` of the lab stack in prod (images already built, volumes kept), until every
# service is ready:
#   bench/up-vs-compose.sh ours     sirius-deck up (returns when every service is ready)
#   bench/up-vs-compose.sh theirs   docker-compose up -d, then wait until every health check
#                                   reports healthy and the migration has exited 0
# Each run first removes the stack's containers (the same command for both), then starts the
# clock. The up-only time is appended to bench/results/up-<which>.txt; time the whole command
# with any benchmark tool, e.g. hyperfine or /usr/bin/time.
#
# Debian's docker-compose (1.29) rejects the top-level `name:` key ("'name' does not match any
# of the regexes: '^x-'"), so it reads a copy of the base file without that line, with -p.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DECK="$ROOT/target/release/sirius-deck"
which="${1:?usage: $0 ours|theirs}"
LAB="$("$DECK" stacks | awk -F'\t' '$1 ~ /^sirius-lab/ {sub("project: ", "", $4); print $4}')"
mkdir -p "$ROOT/bench/results"

ids="$(docker ps -aq --filter label=com.docker.compose.project=sirius-lab)"
if [ -n "$ids" ]; then docker rm -f $ids >/dev/null; fi

source "$ROOT/bench/lib.sh"

start=$(date +%s%N)
case "$which" in
    ours)
        "$DECK" --stack sirius-lab --env prod up >/dev/null 2>&1
        ;;
    theirs)
        base="$(mktemp --suffix=.yaml)"
        sed '/^name: sirius-lab$/d' "$LAB/docker-compose.yaml" > "$base"
        docker-compose -p sirius-lab --project-directory "$LAB" -f "$base" -f "$LAB/docker-compose.prod.yaml" \
            up -d >/dev/null 2>&1
        rm -f "$base"
        until [ "$(lab_ready_count)" -eq 7 ]; do sleep 0.2; done
        ;;
    *) echo "usage: $0 ours|theirs" >&2; exit 2 ;;
esac
end=$(date +%s%N)
echo "$(( (end - start) / 1000000 ))" >> "$ROOT/bench/results/up-$which.txt"
