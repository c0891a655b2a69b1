#!/usr/bin/env bash
# The lab stack's prod environment on a three-node swarm (scripts/test-cluster.sh), deployed
# until every replica runs healthy, and a rolling update of the API, by sirius-deck and by
# `docker stack deploy` (the anchor), on the same cluster:
#   bench/swarm-vs-stack.sh setup            the cluster, its swarm and a docker context for its
#                                            manager (in bench/.swarm); one deploy copies the
#                                            images to every node, then the stack is removed
#   bench/swarm-vs-stack.sh deploy ours      sirius-deck -e prod up (returns when every replica
#                                            runs, healthy)
#   bench/swarm-vs-stack.sh deploy theirs    docker stack deploy, then waits until every service
#                                            runs its replicas (healthy) and the migration completed
#   bench/swarm-vs-stack.sh update ours|theirs   the same on the deployed stack, with the API's
#                                            DECK_REVISION changed: a rolling update, task by task
#   bench/swarm-vs-stack.sh teardown
# Each run first removes the stack (the same command for both) and waits until its tasks are
# gone; `update` then deploys it with the same tool (each writes its own specs). Then the clock
# starts: the deploy-only
# (update-only) time in ms is appended to bench/results/swarm-<what>-<which>.txt. Time the whole
# command with any benchmark tool (hyperfine, /usr/bin/time), one against the other.
# Docker stack deploy reads the model `sirius-deck config` prints (what compose would run, the
# stack's secrets shown), in the compose file format 3, made before the clock starts. The
# profile's prod environment names the test cluster's registry: both tools run the images from
# it (sirius-deck pushed them there in setup; docker stack deploy resolves their digests there).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DECK="${DECK:-$ROOT/target/release/sirius-deck}"
STATE="$ROOT/bench/.swarm"
export DOCKER_CONFIG="$STATE/docker-config"
STACK=(--stack "$ROOT/tests/fixtures/swarm/profile.toml" -e prod)
mkdir -p "$ROOT/bench/results"
# docker stack deploy reads the compose file format 3: depends_on a list, a published port a
# number, cpus a string, no top-level name, no null values.
V3='
import json, sys
m = json.load(sys.stdin)
registry = sys.argv[1]
m.pop("name", None)
m["version"] = "3.9"
for s in m.get("services", {}).values():
    for k in [k for k, v in s.items() if v is None]:
        del s[k]
    s["image"] = registry + "/" + s["image"]
    if isinstance(s.get("depends_on"), dict):
        s["depends_on"] = list(s["depends_on"])
    for p in s.get("ports", []):
        if "published" in p:
            p["published"] = int(p["published"])
    for r in s.get("deploy", {}).get("resources", {}).values():
        if "cpus" in r:
            r["cpus"] = str(r["cpus"])
json.dump(m, sys.stdout)
'

remove() {
    docker --context deck-swarm stack rm sirius-lab >/dev/null 2>&1 || true
    until [ -z "$(docker --context deck-swarm ps -aq --filter label=com.docker.stack.namespace=sirius-lab)" ] &&
        [ -z "$(docker --context deck-swarm network ls -q --filter label=com.docker.stack.namespace=sirius-lab)" ]; do
        sleep 0.5
    done
}

# Every service runs its replicas with the spec deployed last (its update, if any, completed),
# the one-shot migration completed: what sirius-deck waits for. (`docker stack deploy
# --detach=false` waits for the migration to run too, and never returns.)
converged() {
    local name replicas state
    while read -r name replicas state; do
        case "$name" in
            *sirius-migrate) [ "$(docker --context deck-swarm service ps "$name" --format '{{.CurrentState}}' | head -1 | cut -d' ' -f1)" = Complete ] || return 1 ;;
            *) [ "${replicas%/*}" = "${replicas#*/}" ] && [ "$state" != updating ] || return 1 ;;
        esac
    done < <(docker --context deck-swarm service ls --filter label=com.docker.stack.namespace=sirius-lab \
        --format '{{.Name}} {{.Replicas}}' | while read -r n r; do
        echo "$n $r $(docker --context deck-swarm service inspect "$n" --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}')"
    done)
}

# One run of `what` (deploy, update) by `which` (ours, theirs).
one() {
    local what="$1" which="$2" revision=1 file start end
    file="$(mktemp --suffix=.yaml)"
    remove
    if [ "$what" = update ]; then
        # The stack as this tool deployed it (each tool writes its own spec), then one more
        # revision of the API.
        revision="$(date +%s%N)"
        prepare "$which" "$revision" "$file"
        deploy "$which" "$revision" "$file"
        revision="$(date +%s%N)"
    fi
    prepare "$which" "$revision" "$file"
    start=$(date +%s%N)
    deploy "$which" "$revision" "$file"
    end=$(date +%s%N)
    rm -f "$file"
    echo "$(((end - start) / 1000000))" >>"$ROOT/bench/results/swarm-$what-$which.txt"
}

# The file docker stack deploy reads, for a revision of the API (made before the clock starts).
prepare() {
    local which="$1" revision="$2" file="$3"
    if [ "$which" = theirs ]; then
        DECK_REVISION="$revision" "$DECK" "${STACK[@]}" config --show-secrets --format json |
            python3 -c "$V3" "$(sed -n 's/^registry = "\(.*\)"$/\1/p' "$ROOT/tests/fixtures/swarm/profile.toml")" >"$file"
    fi
}

# A deploy of the stack at a revision of the API, by one tool, until it converged.
deploy() {
    local which="$1" revision="$2" file="$3"
    case "$which" in
        ours) DECK_REVISION="$revision" "$DECK" "${STACK[@]}" up >/dev/null 2>&1 ;;
        theirs)
            docker --context deck-swarm stack deploy -c "$file" sirius-lab >/dev/null 2>&1
            until converged; do sleep 0.2; done
            ;;
        *) echo "usage: $0 deploy|update ours|theirs" >&2; exit 2 ;;
    esac
}

case "${1:-}" in
    setup)
        "$ROOT/scripts/test-cluster.sh" up "$STATE"
        "$ROOT/scripts/test-cluster.sh" swarm
        c="$STATE/client"
        docker context rm -f deck-swarm >/dev/null 2>&1 || true
        docker context create deck-swarm --docker \
            "host=tcp://10.213.77.11:2376,ca=$c/ca.pem,cert=$c/cert.pem,key=$c/key.pem" >/dev/null
        "$DECK" "${STACK[@]}" up
        remove
        ;;
    deploy | update) one "$1" "${2:-}" ;;
    teardown)
        "$ROOT/scripts/test-cluster.sh" down
        rm -rf "$STATE"
        ;;
    *) echo "usage: $0 setup | deploy ours|theirs | update ours|theirs | teardown" >&2; exit 2 ;;
esac
