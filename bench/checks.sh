#!/usr/bin/env bash
# Per-step overhead of a headless run: STEPS trivial `check` steps (SELECT 1) on PostgreSQL,
# each journaled ahead with fsync (step.started, step.finished, step.status).
#   bench/checks.sh             STEPS=1000 REPS=3 by default
# Needs a PostgreSQL server (RUNSHEET_BENCH_POSTGRES_URL, default the local one); the audit
# logs go to a directory on the real disk (not tmpfs), or fsync costs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-1000}
REPS=${REPS:-3}
SERVER=${RUNSHEET_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
target=${CARGO_TARGET_DIR:-target}

cargo build --release --bin runsheet
bin=$target/release/runsheet
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/runsheet-checks.XXXXXX")
database="runsheet_bench_$$"
psql "$SERVER" -qc "CREATE DATABASE $database"
trap 'psql "$SERVER" -qc "DROP DATABASE IF EXISTS $database"; rm -rf "$work"' EXIT
url="${SERVER%/*}/$database"

{
    echo "name: checks-$STEPS"
    echo "title: $STEPS trivial checks"
    echo "steps:"
    for i in $(seq "$STEPS"); do
        printf '  - id: c%s\n    title: check %s\n    check: { sql: SELECT 1, expect: 1 }\n' "$i" "$i"
    done
} > "$work/checks.yaml"

echo "== $STEPS checks on PostgreSQL, headless, $REPS runs"
for i in $(seq "$REPS"); do
    /usr/bin/time -f "   %e s wall, %U s user, %S s sys, %M KiB max RSS" \
        "$bin" run "$work/checks.yaml" --headless --yes --database-url "$url" \
        --key "$work/key" --audit-log "$work/run-$i.jsonl" > /dev/null 2> "$work/stderr-$i" \
        || { cat "$work/stderr-$i"; exit 1; }
    tail -n 1 "$work/stderr-$i" >&2
    echo "   $(wc -l < "$work/run-$i.jsonl") audit entries"
done
