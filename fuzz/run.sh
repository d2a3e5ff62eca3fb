#!/usr/bin/env bash
# Fuzzes every parser of untrusted input with libFuzzer (cargo-fuzz, nightly, AddressSanitizer):
#   fuzz/run.sh [SECONDS] [TARGET...]
# Builds the targets, replays the committed seed corpora (fuzz/corpus/<target>/), then fuzzes
# each target for SECONDS (default 20; `.ci/run` uses 20, the long form is
# `FUZZ_RUNS=1000000 fuzz/run.sh 1800`)
# with the issue's bar: no crash, no input over 1 s, no allocation over 2 GB. New inputs go to
# a scratch corpus, never into the repository; a crash leaves its input in fuzz/artifacts/ and
# fails the script. Prints one table row per target: executions, seconds, coverage.
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_PER_TARGET="${1:-20}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(gguf safetensors adapter table experiment events url_hash tokenizer)
fi

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked
fi

TARGET_DIR="${CURLORA_FUZZ_TARGET_DIR:-$HOME/.cache/curlora-fuzz-target}"
# `cargo fuzz build` takes one target or none (all of them).
if [ ${#TARGETS[@]} -ne 1 ]; then
  cargo +nightly fuzz build --target-dir "$TARGET_DIR"
else
  cargo +nightly fuzz build --target-dir "$TARGET_DIR" "${TARGETS[0]}"
fi
BIN_DIR="$TARGET_DIR/x86_64-unknown-linux-gnu/release"

SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
# FUZZ_TIMEOUT: seconds one input may take (1, the bar; `.ci/run` allows 5 on a shared machine,
# where a busy neighbour can stall an input that takes milliseconds).
LIMITS=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout="${FUZZ_TIMEOUT:-1}")
# FUZZ_SEED: libFuzzer's random seed (`.ci/run` fixes it, so that CI explores the same inputs
# on every run: a crash there is reproducible, not luck). FUZZ_RUNS: stop a target after this
# many executions even before SECONDS (the issue's bar is 10^6 executions or 30 minutes).
EXTRA=(-runs="${FUZZ_RUNS:--1}")
if [ -n "${FUZZ_SEED:-}" ]; then EXTRA+=(-seed="$FUZZ_SEED"); fi
printf '%-12s %12s %8s %8s %8s\n' target executions seconds cov features
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "artifacts/$t" "$SCRATCH/$t"
  log="$SCRATCH/$t.log"
  seeds=("corpus/$t")
  if [ -d "regressions/$t" ]; then seeds+=("regressions/$t"); fi
  # Replay: every committed input once.
  if ! "$BIN_DIR/$t" "${LIMITS[@]}" -runs=0 "${seeds[@]}" >"$log" 2>&1; then
    echo "error: $t fails on its committed corpus:" >&2; tail -30 "$log" >&2; status=1; continue
  fi
  # Fresh fuzzing, new inputs into the scratch corpus.
  before=$(ls "artifacts/$t" | wc -l)
  if ! "$BIN_DIR/$t" "${LIMITS[@]}" "${EXTRA[@]}" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
      -artifact_prefix="artifacts/$t/" "$SCRATCH/$t" "${seeds[@]}" >"$log" 2>&1; then
    # A "timeout" on a busy machine may be the machine: the input is run again alone, and only
    # one that is still over the limit counts as a hang.
    newest=$(ls -t "artifacts/$t" | head -1)
    if [ "$(ls "artifacts/$t" | wc -l)" -gt "$before" ] && [[ "$newest" == timeout-* ]] \
        && "$BIN_DIR/$t" "${LIMITS[@]}" -runs=1 "artifacts/$t/$newest" >"$log.again" 2>&1; then
      echo "note: $t: fuzz/artifacts/$t/$newest timed out while the machine was busy but runs" \
        "within the limit alone (not a hang; kept for a look)" >&2
    else
      echo "error: $t crashed, hung or ran out of memory; the input is in fuzz/artifacts/$t/:" >&2
      tail -40 "$log" >&2; status=1; continue
    fi
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
  printf '%-12s %12s %8s %8s %8s\n' "$t" "$runs" "$secs" "$cov" "$ft"
done
exit $status
