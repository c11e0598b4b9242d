#!/usr/bin/env bash
# The terminal UI: frame time on a 1,000-step runbook (ratatui TestBackend, 120x40 and 200x60,
# the selection walking the list) and the time from start to the first frame of the real
# binary in a pseudo-terminal on a fresh SQLite database, for the shipped runbook and the
# 1,000-step one.
#   bench/tui.sh              FRAMES=1000 REPS=10 by default
set -euo pipefail
cd "$(dirname "$0")/.."
FRAMES=${FRAMES:-1000}
REPS=${REPS:-10}
target=${CARGO_TARGET_DIR:-target}

cargo build --release --bin runsheet --example tui_frames --example tui_first_frame
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/runsheet-tui.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== frame time, 1,000-step runbook, $FRAMES frames a size"
"$target/release/examples/tui_frames" --frames "$FRAMES" --runbook-dir "$work/bench-1000"

echo "== start to first frame, $REPS runs a runbook"
"$target/release/examples/tui_first_frame" --bin "$target/release/runsheet" --reps "$REPS" \
    --runbook runbooks/external-orders-expand.yaml --runbook "$work/bench-1000/runbook.yaml"

# What part of the start is loading the runbook: parsing and checking it, nothing else.
echo "== runsheet validate, shipped runbook and 1,000-step runbook, 5 runs each"
TIMEFORMAT='   %3R s wall'
for runbook in runbooks/external-orders-expand.yaml "$work/bench-1000/runbook.yaml"; do
    for _ in 1 2 3 4 5; do
        time "$target/release/runsheet" validate "$runbook" > /dev/null
    done
done
