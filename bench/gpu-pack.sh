#!/usr/bin/env bash
# Builds here what bench/gpu-check.sh runs on a lent GPU machine, into gpu-check/ (ignored by
# git): the curlora binary and the wgpu test binaries, stripped and xz-compressed so that they fit
# the 64 MiB the device tool carries (about 100 MiB each unpacked).
#
# It also fetches the Vulkan loader (libvulkan1) into gpu-check/deb/, which a bare GPU machine
# may lack (wgpu opens libvulkan.so.1 at run time).
#
#   bench/gpu-pack.sh            # then, with the device tool:
#   run(command="bash bench/gpu-check.sh", carry=["gpu-check"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/curlora-target}"
cargo build --release
# The test binaries' paths, from cargo's JSON messages.
mapfile -t tests < <(cargo test --release --no-run --message-format=json \
    --test wgpu_backend --test kernels --test half_precision 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])')
rm -rf gpu-check && mkdir -p gpu-check/tests
strip -o gpu-check/curlora "$CARGO_TARGET_DIR/release/curlora"
for t in "${tests[@]}"; do
  name=$(basename "$t" | sed 's/-[0-9a-f]*$//')
  strip -o "gpu-check/tests/$name" "$t"
done
xz -T2 -6 gpu-check/curlora gpu-check/tests/*
mkdir -p gpu-check/deb /tmp/amd64/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
(apt-get $o update -qq && cd gpu-check/deb && apt-get $o download libvulkan1) >/dev/null 2>&1 \
  || echo "note: could not download libvulkan1; the GPU machine must have a Vulkan loader"
du -sh gpu-check
