#!/usr/bin/env bash
# Trunk post-build hook (Trunk.toml): stores the WebAssembly gzip-compressed, so that dist/ stays
# within its 15 MB budget on disk (the code alone — burn's wgpu and Flex backends with autodiff —
# is ~15.5 MB; the embedded model, tasks and recording ~4.7 MB more). The page decompresses it
# while it downloads (web/init.mjs, DecompressionStream), so any static host serves it as is.
# Runs on Trunk's staging folder, or on the folder given (e.g. `web/compress.sh dist`).
set -euo pipefail
dir="${1:-${TRUNK_STAGING_DIR:?run by trunk, or give a folder}}"
shopt -s nullglob
for wasm in "$dir"/*_bg.wasm; do
  name=$(basename "$wasm")
  size=$(stat -c %s "$wasm")
  gzip -9 -n -f "$wasm"
  gz=$(stat -c %s "$wasm.gz")
  # The loader fetches NAME.gz and reports progress against the decompressed size; the preload
  # hint names the file that is really fetched (its integrity hash was the uncompressed file's).
  sed -i -E \
    -e "s#'\./${name}', [0-9]+#'./${name}.gz', ${size}#" \
    -e "s#<link rel=\"preload\" href=\"\./${name}\"[^>]*>#<link rel=\"preload\" href=\"./${name}.gz\" crossorigin=\"anonymous\" as=\"fetch\">#" \
    "$dir/index.html"
  grep -q "${name}.gz', ${size}" "$dir/index.html" \
    || { echo "compress.sh: index.html does not load ${name} the way this script expects" >&2; exit 1; }
  echo "compress.sh: ${name} ${size} bytes -> ${name}.gz ${gz} bytes"
done
