// Trunk initializer: drives the loading bar while the WebAssembly (app + embedded model and
// tasks) downloads, and never leaves a blank page when it fails.
export default function initializer() {
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
