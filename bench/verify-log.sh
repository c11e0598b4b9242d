#!/usr/bin/env bash
# Times the audit log: writing entries (each appended and fsynced) and verifying a sealed
# 100,000-entry log (chain, checkpoint signatures, seal, LOG.sig).
#   bench/verify-log.sh            ENTRIES=100000 REPS=5 by default
# The work directory must be on the real disk (not tmpfs), or fsync costs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ENTRIES=${ENTRIES:-100000}
REPS=${REPS:-5}
target=${CARGO_TARGET_DIR:-target}

cargo build --release --example gen_log --bin runsheet
bin=$target/release/examples
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/runsheet-verify-log.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "work directory: $work ($(df --output=fstype "$work" | tail -1))"

echo "== write 1,000 entries (append + fsync each), $REPS runs"
for i in $(seq "$REPS"); do
    "$bin/gen_log" --entries 1000 --out "$work/small-$i.jsonl"
done

echo "== write $ENTRIES entries"
"$bin/gen_log" --entries "$ENTRIES" --out "$work/big.jsonl"

echo "== verify $ENTRIES entries, $REPS runs"
for i in $(seq "$REPS"); do
    /usr/bin/time -f "   %e s wall, %U s user, %S s sys, %M KiB max RSS" \
        "$target/release/runsheet" audit verify "$work/big.jsonl" --pubkey "$work/big.jsonl.key.pub"
done
