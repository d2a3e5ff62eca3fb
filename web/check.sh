#!/usr/bin/env bash
# The web build, checked end to end: `cargo check` for wasm32, `trunk build --release`, the
# bundle budget, and the browser test on both tiers (WebGPU on SwiftShader, then the CPU with
# WebGPU off) in headless Chromium. Installs what is missing (Trunk and wasm-bindgen-cli with
# cargo, binaryen@132 and playwright-core with npm, Debian's chromium with apt).
# `.ci/run` runs it; run it yourself after changing anything the browser build compiles.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/curlora-target}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TOOLS="${CURLORA_WEB_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/curlora-web-tools}"
OUT="${CURLORA_WEB_OUT:-$CARGO_TARGET_DIR/web-e2e}"
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

rustup target list --installed | grep -q '^wasm32-unknown-unknown$' \
  || rustup target add wasm32-unknown-unknown

# The native build must never break the web one.
cargo check --release --target wasm32-unknown-unknown --lib --bin curlora

# Build tools, at the versions the build is pinned to (Trunk.toml, Cargo.lock).
if ! trunk --version 2>/dev/null | grep -q '0\.21\.14'; then
  cargo install trunk@0.21.14 --locked
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q '0\.2\.130'; then
  # Not --locked: its lock file pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli@0.2.130
fi
if [ ! -x "$TOOLS/node_modules/.bin/wasm-opt" ] || [ ! -d "$TOOLS/node_modules/playwright-core" ]; then
  mkdir -p "$TOOLS"
  (cd "$TOOLS" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
    && npm install --no-audit --no-fund binaryen@132.0.0 playwright-core@1.65.1)
fi
if ! command -v chromium >/dev/null; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# npm's wasm-opt (version 132) first: Debian's binaryen 108 corrupts the output.
PATH="$TOOLS/node_modules/.bin:$PATH" trunk build --release

# Budget: dist/ ≤ 15 MB on disk, both tiers in it. The WebAssembly is ~20 MB (burn's wgpu and
# Flex backends with autodiff ~15.5 MB of code, the embedded model, tasks and recording ~4.7 MB),
# so Trunk's post-build hook stores it gzip-compressed (web/compress.sh) and the page
# decompresses it as it arrives (web/init.mjs): ~8.3 MB on disk and over the wire.
bytes=$(du -cb dist/* | tail -n1 | cut -f1)
echo "web bundle: $bytes bytes in dist/ ($(ls dist | tr '\n' ' '))"
if ! ls dist/*_bg.wasm.gz >/dev/null 2>&1; then
  echo "dist/ has no compressed WebAssembly: did Trunk run its post-build hook (web/compress.sh)?" >&2
  exit 1
fi
if [ "$bytes" -gt 15000000 ]; then
  echo "the web bundle is over its budget (15 MB on disk)" >&2
  exit 1
fi

# Browser test: tier 1 (WebGPU on SwiftShader), then tier 2 (no WebGPU: the CPU in wasm).
# SwiftShader compiles every WGSL kernel on the CPU: the first step takes minutes there.
node web/e2e.mjs --dist dist --tier webgpu --out "$OUT" --tools "$TOOLS" --timeout 900
node web/e2e.mjs --dist dist --tier cpu --out "$OUT" --tools "$TOOLS"
# The guided tour, from the link, to its end (on the recording: no training to wait for).
node web/e2e.mjs --dist dist --tier cpu --tour 1 --hash '#tour=1' --out "$OUT" --tools "$TOOLS"
echo "web check passed: screenshots in $OUT"
