#!/usr/bin/env bash
# The checks a lent GPU machine runs, in under 8 minutes, from binaries built here by
# bench/gpu-pack.sh (carried as gpu-check/). Everything it measures goes to $OUT as JSON lines
# or logs; each step runs even if an earlier one failed, and summary.json says which did.
#
# 1. `curlora info --json`: the adapters wgpu sees, and whether the chosen one has SHADER_F16.
# 2. The wgpu test binaries: tests/wgpu_backend.rs (golden logits, CPU/GPU forward + backward
#    agreement, adapter-only training: burn issue #5162 reports all-NaN gradients when only
#    adapter parameters train on Vulkan/Metal: `cpu_and_gpu_agree_on_forward_and_backward` trains only
#    the adapters and compares their gradients with the CPU's),
#    tests/kernels.rs (the WGSL CURLoRA kernel against the factorized path) and
#    tests/half_precision.rs (f16 logits against f32 on the GPU).
# 3. The classify and lm workloads on GPT-2 small at full size (50,257 vocab), f32 and f16, and
#    perplexity on SmolLM2-135M's shape.
#
# Not here: `eval` on the real SmolLM2 (its GGUF is 98 MB, more than the device tool carries).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-check-out}"
mkdir -p "$OUT" /tmp/gc
# The Vulkan loader, when the machine has none (see the device tool's README).
if ! ldconfig -p | grep -q libvulkan; then
  for f in gpu-check/deb/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done; ldconfig
fi
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
for f in gpu-check/curlora.xz gpu-check/tests/*.xz; do
  xz -dc "$f" > "/tmp/gc/$(basename "$f" .xz)"; chmod +x "/tmp/gc/$(basename "$f" .xz)"
done
BIN=/tmp/gc/curlora
export CURLORA_REQUIRE_GPU=1 CUBECL_AUTOTUNE_LEVEL=minimal
status=()
step() { # name, command...
  local name=$1; shift
  local t0=$SECONDS
  if timeout 420 "$@" > "$OUT/$name.log" 2>&1; then r=ok; else r="failed($?)"; fi
  status+=("\"$name\": {\"result\": \"$r\", \"seconds\": $((SECONDS - t0))}")
  echo "$name: $r in $((SECONDS - t0)) s"
}
step info "$BIN" --device gpu info --json
for t in wgpu_backend kernels half_precision; do
  [ -x "/tmp/gc/$t" ] && step "test-$t" "/tmp/gc/$t" --test-threads 1
done
for dt in f32 f16; do
  step "bench-gpt2-$dt" "$BIN" --device gpu --dtype "$dt" bench --models gpt2-small \
    --workloads classify,lm --modes frozen,lora,curlora,curlora-kernel --in-process \
    --steps 5 --layer false --json
done
step bench-smollm2-f16 "$BIN" --device gpu --dtype f16 bench --models smollm2-135m \
  --workloads classify,perplexity --modes lora,curlora --in-process --steps 5 --layer false --json
nvidia-smi --query-gpu=name,clocks.max.sm,memory.total --format=csv > "$OUT/nvidia-smi.csv" 2>&1 || true
( IFS=,; echo "{${status[*]}}" ) > "$OUT/summary.json"
cat "$OUT/summary.json"
