#!/usr/bin/env bash
# Backup throughput on the lab stack (running), ours against the plain command a user would type
# for the same job, with the same compression (zstd level 3):
#
#   bench/backup-vs-plain.sh prepare        1 GiB in the Valkey volume, a PostgreSQL database
#                                           of >= 500 MB (table `bench`); once
#   bench/backup-vs-plain.sh volume-ours    sirius-deck backup --only volume:valkey_data
#                                           (archive API, zstd, SHA-256, read back and checked)
#   bench/backup-vs-plain.sh volume-plain   docker run --rm -v VOL:/v IMAGE tar -C /v -cf - . | zstd -3 > FILE
#   bench/backup-vs-plain.sh db-ours        sirius-deck backup --only db:sirius-postgres
#   bench/backup-vs-plain.sh db-plain       docker exec sirius-postgres pg_dump -Fc ... > FILE
#   bench/backup-vs-plain.sh sizes          the bytes each job reads, to turn times into MB/s
#   bench/backup-vs-plain.sh clean          removes what the runs wrote
#
# Time each job as a whole process with any tool (hyperfine, /usr/bin/time), the two commands
# of a pair in turn. Backups go to $BENCH_DIR (default /var/tmp/sirius-deck-bench).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DECK="$ROOT/target/release/sirius-deck"
OUT="${BENCH_DIR:-/var/tmp/sirius-deck-bench}"
VOL=sirius-lab_valkey_data
mkdir -p "$OUT"
export SIRIUS_DECK_BACKUP_DIR="$OUT/sets"

case "${1:?usage: $0 prepare|volume-ours|volume-plain|db-ours|db-plain|sizes|clean}" in
    prepare)
        command -v zstd >/dev/null || apt-get install -y -qq zstd >/dev/null
        # Base64 of random bytes: text that compresses to about three quarters, like logs and
        # scan results rather than all zeros or all noise.
        docker exec sirius-valkey sh -c 'head -c 805306368 /dev/urandom | base64 -w 76 > /data/bench.txt'
        docker exec sirius-postgres psql -q -U postgres -d sirius -c "
            drop table if exists bench;
            create table bench as
              select g as id, md5(g::text) as h, repeat(md5((g * 7)::text), 3) as body, now() as at
              from generate_series(1, 3500000) g;"
        ;;
    volume-ours)
        exec "$DECK" backup --only volume:valkey_data >/dev/null
        ;;
    volume-plain)
        docker run --rm -v "$VOL:/v" sirius-lab/sirius-valkey:latest tar -C /v -cf - . | zstd -q -3 > "$OUT/volume.tar.zst"
        ;;
    db-ours)
        exec "$DECK" backup --only db:sirius-postgres >/dev/null
        ;;
    db-plain)
        docker exec sirius-postgres pg_dump -U postgres -Fc -d sirius > "$OUT/sirius.dump"
        ;;
    sizes)
        echo "volume bytes: $(docker exec sirius-valkey du -sb /data | cut -f1)"
        echo "database bytes: $(docker exec sirius-postgres psql -U postgres -d sirius -tAc 'select pg_database_size(current_database())')"
        ;;
    clean)
        rm -rf "$OUT"
        docker exec sirius-valkey rm -f /data/bench.txt
        docker exec sirius-postgres psql -q -U postgres -d sirius -c 'drop table if exists bench'
        ;;
esac
