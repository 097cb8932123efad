#!/usr/bin/env bash
# Sampler benchmark (issue 3): the exact commands behind the "Sampler benchmark (issue 3)"
# section of benchmarks/RESULTS.md. Re-running resumes: finished runs in the results files are
# kept, only missing (sampler, problem, seed) runs are done.
#
#   bash benchmarks/issue3_samplers.sh            # both parts
#   bash benchmarks/issue3_samplers.sh speed      # only the 10-minute speed check
#   bash benchmarks/issue3_samplers.sh table      # only the first table
#   bash benchmarks/issue3_samplers.sh other      # a smoke table of the other suites (peers)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results/issue3
mkdir -p "$OUT"

# qmc comes from the separate plugin distribution plugins/hpopt-qmc; use it when installed.
if hpopt plugins --kind samplers | grep -qE '^\s+qmc\s'; then QMC="qmc,"; else QMC=""; fi

if [[ "${1:-all}" == "all" || "${1:-all}" == "speed" ]]; then
  # Speed: the full continuous suite (31 problems), 3 cheap samplers x 10 seeds x 100 trials,
  # 2 worker processes. Target: under 10 minutes on 2 cores.
  CHEAP="${CHEAP:-random,${QMC:-tpe,}optuna:random}"
  rm -f "$OUT/continuous_cheap.jsonl"
  /usr/bin/time -f "wall %e s, cpu %P" hpopt bench run --samplers "$CHEAP" \
    --problems continuous --trials 100 --seeds 10 --jobs 2 --out "$OUT/continuous_cheap.jsonl" --quiet
  hpopt bench report "$OUT/continuous_cheap.jsonl" --samplers "$CHEAP" \
    --out "$OUT/continuous_cheap.md"
fi

if [[ "${1:-all}" == "all" || "${1:-all}" == "table" ]]; then
  # The first table: random, qmc, optuna:random, optuna:tpe on the continuous and mixed suites.
  hpopt bench run --samplers "random,${QMC}optuna:random,optuna:tpe" --problems continuous,mixed \
    --trials 100 --seeds 10 --jobs 2 --out "$OUT/first_table.jsonl" --quiet
  hpopt bench report "$OUT/first_table.jsonl" --plots benchmarks/plots/issue3 \
    --samplers "random,${QMC}optuna:random,optuna:tpe" --out "$OUT/first_table.md"
fi

if [[ "${1:-all}" == "other" ]]; then
  # Smoke table of the other suites with peers side by side (5 seeds): not part of the first table.
  hpopt bench run --samplers random,optuna:tpe,hyperopt:tpe,nevergrad:ngopt \
    --problems conditional,noisy,high-dim,multi-objective,curves --trials 100 --seeds 5 --jobs 2 \
    --out "$OUT/other_suites.jsonl" --quiet
  hpopt bench report "$OUT/other_suites.jsonl" --out "$OUT/other_suites.md"
fi
