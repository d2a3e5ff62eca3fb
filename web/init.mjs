// Trunk initializer: drives the loading bar while the WebAssembly (app + embedded model and
// tasks) downloads, and never leaves a blank page when it fails.
//
// dist/ stores the WebAssembly gzip-compressed (web/compress.sh, Trunk's post-build hook): the
// fetch of `*.wasm.gz` is decompressed here as it arrives, before Trunk's loader counts it (so
// the bar runs against the uncompressed size) and wasm-bindgen compiles it (streaming). A host
// that already sends it with `Content-Encoding: gzip` has the browser decompress it instead.
function decompressWasm() {
  const fetchRaw = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = typeof input === "string" ? input : (input.url ?? String(input));
    const response = await fetchRaw(input, init);
    if (!url.endsWith(".wasm.gz") || !response.ok) return response;
    window.fetch = fetchRaw;
    if (typeof DecompressionStream === "undefined") {
      throw new Error("this browser cannot decompress the app (no DecompressionStream)");
    }
    const encoded = (response.headers.get("content-encoding") ?? "").includes("gzip");
    const body = encoded ? response.body : response.body.pipeThrough(new DecompressionStream("gzip"));
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: { "content-type": "application/wasm" },
    });
  };
}

export default function initializer() {
  decompressWasm();
  const bar = document.getElementById("loading-bar");
  const text = document.getElementById("loading-text");
  const t0 = performance.now();
  const mb = (n) => (n / 1e6).toFixed(1);
  return {
    onStart: () => { if (text) text.textContent = "downloading the app and its tiny model…"; },
    onProgress: ({ current, total }) => {
      if (bar && total > 0) bar.style.width = `${Math.round((100 * current) / total)}%`;
      if (text) text.textContent = total > 0
        ? `downloading the app and its tiny model: ${mb(current)} of ${mb(total)} MB`
        : `downloading the app and its tiny model: ${mb(current)} MB`;
    },
    onComplete: () => {
      if (bar) bar.style.width = "100%";
      window.__curlora_download_s = (performance.now() - t0) / 1000;
    },
    onSuccess: () => { if (text) text.textContent = "starting…"; },
    onFailure: (error) => {
      console.error("curlora failed to load:", error);
      if (text) text.textContent =
        "The app could not load (" + error + "). It needs WebAssembly: a recent Chrome, Edge, Firefox or Safari.";
    },
  };
}
