#!/usr/bin/env bash
# Regenerates the committed reports of the built-in scenarios (scenarios/builtin/, 200 seeds each).
#   bash results/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p sim-cli
for f in scenarios/builtin/*.toml; do
  name=$(basename "$f" .toml)
  mkdir -p "results/$name"
  ./target/release/licsim run "$f" --seeds 200 --out "results/$name" > "results/$name/summary.txt" 2>/dev/null || true
done
