#!/usr/bin/env bash
# `config` of a generated 500-service project (a base file shaped like Sirius's and a dev
# override; the same shape as crates/compose/benches/load.rs), whole process, side by side:
#   bench/config-vs-compose.sh DIR     writes the project into DIR and prints the two commands
# Time them with any benchmark tool that runs whole processes, e.g.
#   hyperfine "$(bench/config-vs-compose.sh /tmp/p500 | sed -n 1p)" "$(… | sed -n 2p)"
# ours:   target/release/sirius-deck -f compose.yaml -f compose.dev.yaml config --format json
# theirs: Docker Compose v2 (2.26, $COMPOSE_V2) with the same files and arguments.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib.sh" >/dev/null
ensure_compose_v2 >/dev/null
dir="${1:?usage: $0 DIR}"
mkdir -p "$dir"
python3 - "$dir" 500 <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
base = ["name: bench", "x-common: &common", "  restart: unless-stopped", "  logging: {driver: json-file}", "services:"]
over = ["services:"]
for i in range(n):
    port = 10000 + i
    base += [f"  svc-{i}:", "    <<: *common", f"    image: registry.local/svc-{i}:${{TAG:-latest}}",
             "    environment:", "      - LEVEL=${LEVEL:-info}", f"      - PORT={port}", "      - DB_PASSWORD=${DB_PASSWORD:?needed}",
             "    ports:", f"      - \"{port}:{port}\"", "    volumes:", f"      - data-{i}:/data", f"      - ./conf/{i}:/etc/conf:ro"]
    if i > 0:
        base += ["    depends_on:", f"      svc-{i-1}:", "        condition: service_healthy"]
    base += ["    healthcheck:", "      test: [\"CMD\", \"true\"]", "      interval: 30s", "      timeout: 5s", "      retries: 3",
             "    deploy:", "      resources:", "        limits: {memory: 512M, cpus: \"0.5\"}"]
    over += [f"  svc-{i}:", f"    build: {{context: ./svc-{i}, target: development}}", "    environment:", "      LEVEL: debug",
             "    ports:", f"      - \"{20000+i}:{20000+i}\"", "    depends_on: []"]
base += ["volumes:"] + [f"  data-{i}:" for i in range(n)]
open(f"{d}/compose.yaml", "w").write("\n".join(base) + "\n")
open(f"{d}/compose.dev.yaml", "w").write("\n".join(over) + "\n")
open(f"{d}/.env", "w").write("DB_PASSWORD=bench\n")
PY
echo "$ROOT/target/release/sirius-deck -f $dir/compose.yaml -f $dir/compose.dev.yaml config --format json"
echo "$COMPOSE_V2 -f $dir/compose.yaml -f $dir/compose.dev.yaml config --format json"
