#!/usr/bin/env bash
# 500 small migrations on PostgreSQL: `runsheet run` (one `migrate` step, every migration
# journaled ahead with fsync, lock and statement timeouts set, lint allowances read) against
# `sqlx migrate run` (sqlx-cli) on the same files, alternating, each on a fresh database.
#   bench/migrations.sh          COUNT=500 REPS=3 by default
# Needs a PostgreSQL server (RUNSHEET_BENCH_POSTGRES_URL, default the local one) and sqlx-cli:
#   cargo install sqlx-cli --version 0.9.0 --locked --no-default-features --features postgres
# (no TLS backend, like runsheet; SQLX=path/to/sqlx to use another one).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-500}
REPS=${REPS:-3}
SERVER=${RUNSHEET_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SQLX=${SQLX:-$(command -v sqlx || echo "$HOME/.cargo/bin/sqlx")}
target=${CARGO_TARGET_DIR:-target}

[ -x "$SQLX" ] || { echo "sqlx-cli not found: see the header of $0" >&2; exit 1; }
cargo build --release --bin runsheet
bin=$target/release/runsheet
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/runsheet-migrations.XXXXXX")
database="runsheet_bench_migrations_$$"
trap 'psql "$SERVER" -qc "DROP DATABASE IF EXISTS $database"; rm -rf "$work"' EXIT
url="${SERVER%/*}/$database"

mkdir "$work/migrations"
for i in $(seq "$COUNT"); do
    version=$((20270101000000 + i))
    echo "CREATE TABLE bench_$i (id BIGINT PRIMARY KEY, note TEXT);" > "$work/migrations/${version}_table_$i.up.sql"
    echo "DROP TABLE bench_$i;" > "$work/migrations/${version}_table_$i.down.sql"
done
cat > "$work/migrate.yaml" <<YAML
name: migrations-$COUNT
title: $COUNT small migrations
migrations: migrations
steps:
  - id: all
    title: Apply every migration
    migrate: {}
YAML

# A fresh database, and a checkpoint so that neither tool pays for the other's dirty pages.
fresh() {
    psql "$SERVER" -qc "DROP DATABASE IF EXISTS $database"
    psql "$SERVER" -qc "CREATE DATABASE $database"
    psql "$SERVER" -qc "CHECKPOINT"
}

applied() {
    psql "$url" -Atc "SELECT count(*) FROM _sqlx_migrations WHERE success"
}

clock() {
    local start end
    start=$(date +%s.%N)
    "$@" > "$work/out" 2>&1 || { cat "$work/out"; exit 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

echo "== $COUNT migrations on PostgreSQL, $REPS runs each, alternating"
echo "   $("$SQLX" --version)"
for i in $(seq "$REPS"); do
    fresh
    t_sqlx=$(clock "$SQLX" migrate run --source "$work/migrations" --database-url "$url")
    n_sqlx=$(applied)
    fresh
    t_rs=$(clock "$bin" run "$work/migrate.yaml" --headless --yes --database-url "$url" \
        --key "$work/key" --audit-log "$work/run-$i.jsonl")
    n_rs=$(applied)
    ratio=$(echo "scale=2; $t_rs / $t_sqlx" | bc)
    printf '   run %s: sqlx migrate run %.2f s (%s applied), runsheet %.2f s (%s applied, %s audit entries): %sx\n' \
        "$i" "$t_sqlx" "$n_sqlx" "$t_rs" "$n_rs" "$(wc -l < "$work/run-$i.jsonl")" "$ratio"
done
