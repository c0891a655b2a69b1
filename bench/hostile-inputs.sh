#!/usr/bin/env bash
# Hostile compose inputs (issue 13; the same shapes as `hostile_inputs` in
# crates/compose/tests/fuzz.rs) through the release CLI's `config`, each timed with its peak
# memory (GNU time's maximum resident set size). The aim: for any input up to 1 MB, at most
# 2 s and 256 MB, and a clear error or a load, never a crash.
#   bench/hostile-inputs.sh [BINARY]     (default: target/release/sirius-deck)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$ROOT/target/release/sirius-deck}"
[ -x "$bin" ] || { echo "build it first: cargo build --release -p sirius-deck" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import os, sys
d = sys.argv[1]
def case(name, compose, env=""):
    os.makedirs(f"{d}/{name}")
    open(f"{d}/{name}/compose.yaml", "w").write(compose)
    open(f"{d}/{name}/.env", "w").write(env)
case("nested-sequences", "services:\n  a:\n    image: x\n    command:\n      " + "- " * 10000 + "x\n")
case("nested-flow-mappings", "services:\n  a:\n    image: x\n    labels: " + "{a: " * 10000 + "x: y" + "}" * 10000 + "\n")
nested = "${A:-" * 5000 + "x" + "}" * 5000
case("nested-interpolation", f"services:\n  a:\n    image: x\n    environment:\n      B: \"{nested}\"\n", f"C={nested}\n")
chain = "services:\n  s0: {image: x}\n" + "".join(f"  s{i}: {{image: x, depends_on: [s{i-1}]}}\n" for i in range(1, 20000))
case("depends-on-chain-20000", chain)
bomb = 'x-a0: &a0 "' + "b" * 60000 + '"\n' + "".join(f"x-a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]\n" for i in range(1, 8))
case("alias-bomb-of-bytes", bomb + "services:\n  a: {image: x}\n")
nodes = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]\n" for i in range(1, 12))
case("alias-bomb-of-nodes", "x-" + nodes.replace("\na", "\nx-a") + "services:\n  a: {image: x}\n")
env = "V0=xxxxxxxxxxxxxxxx\n" + "".join(f"V{i}=${{V{i-1}}}${{V{i-1}}}\n" for i in range(1, 2000))
case("doubling-variables", "services:\n  a: {image: x, environment: [\"X=${V0}\"]}\n", env)
PY
printf '%-26s %8s %9s %10s  %s\n' CASE BYTES SECONDS "PEAK MB" OUTCOME
for c in "$dir"/*/; do
    name="$(basename "$c")"
    bytes=$(( $(stat -c %s "$c/compose.yaml") + $(stat -c %s "$c/.env") ))
    set +e
    /usr/bin/time -f '%e %M' -o "$dir/time" "$bin" -f "$c/compose.yaml" config --format json >/dev/null 2>"$dir/err"
    rc=$?
    set -e
    read -r secs kb < <(tail -1 "$dir/time") || true
    case $rc in
        0) outcome="loaded" ;;
        134|139) outcome="CRASH (rc $rc)" ;;
        *) outcome="refused: $(grep -m1 -v '^\s*$' "$dir/err" | cut -c1-90)" ;;
    esac
    printf '%-26s %8s %9s %10s  %s\n' "$name" "$bytes" "$secs" "$((kb / 1024))" "$outcome"
done
set +e
/usr/bin/time -f '%e %M' -o "$dir/time" "$bin" -f /dev/zero config >/dev/null 2>"$dir/err"
set -e
read -r secs kb < <(tail -1 "$dir/time") || true
printf '%-26s %8s %9s %10s  %s\n' "/dev/zero" "endless" "$secs" "$((kb / 1024))" "refused: $(grep -m1 -v '^\s*$' "$dir/err" | cut -c1-90)"
