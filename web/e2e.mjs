// End-to-end test of the web build in headless Chromium (Debian's `chromium`), driven by
// npm's playwright-core (never its own browser download).
//
//   node web/e2e.mjs --dist dist --tier webgpu --out target/web-e2e [--hash '#rows=32&epochs=1']
//
// Serves dist/ on localhost, opens the page, waits until the app has trained a few steps on the
// expected tier and the accuracy view has points, saves a screenshot, and fails on any panic,
// page error or console error. `--tier webgpu` starts Chromium with SwiftShader's WebGPU;
// `--tier cpu` starts it without, so the page must fall back to the CPU by itself.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []),
);
const dist = path.resolve(args.dist ?? "dist");
const tier = args.tier ?? "webgpu";
const out = path.resolve(args.out ?? "target/web-e2e");
const hash = args.hash ?? "#rows=32&epochs=1";
const minSteps = Number(args.steps ?? 4);
const timeoutS = Number(args.timeout ?? 420);
const toolsDir = args.tools ?? process.env.CURLORA_WEB_TOOLS;
const require = createRequire(toolsDir ? path.join(toolsDir, "package.json") : import.meta.url);
const { chromium } = require("playwright-core");

fs.mkdirSync(out, { recursive: true });

const types = {
  ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript",
  ".wasm": "application/wasm", ".css": "text/css", ".png": "image/png",
};
const server = http.createServer((req, res) => {
  const url = decodeURIComponent(new URL(req.url, "http://x").pathname);
  let file = path.join(dist, url === "/" ? "index.html" : url);
  if (!file.startsWith(dist) || !fs.existsSync(file)) {
    res.writeHead(404).end("not found");
    return;
  }
  res.writeHead(200, {
    "content-type": types[path.extname(file)] ?? "application/octet-stream",
    "content-length": fs.statSync(file).size,
  });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${server.address().port}/${hash}`;

const base = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--disable-quic"];
const webgpu = ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader",
  "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
  "--disable-vulkan-fallback-to-gl-for-testing", "--ignore-gpu-blocklist"];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: tier === "webgpu" ? [...base, ...webgpu] : base,
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const problems = [];
const log = [];
// A missing file is a failure, except the favicon the browser asks for on its own.
page.on("response", (r) => {
  if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) {
    problems.push(`[http ${r.status()}] ${r.url()}`);
  }
});
page.on("console", (m) => {
  const line = `[${m.type()}] ${m.text()}`;
  log.push(line);
  const resource = /^Failed to load resource/.test(m.text()); // reported by "response" above
  if ((m.type() === "error" && !resource) || /panicked/.test(m.text())) problems.push(line);
});
page.on("pageerror", (e) => problems.push(`[pageerror] ${e.message}`));

const t0 = Date.now();
let status = null;
let failure = null;
try {
  await page.goto(url);
  while (true) {
    status = await page.evaluate(() => window.__curlora ?? null);
    if (problems.length) throw new Error("console errors");
    if (status?.error) throw new Error(`the run stopped: ${status.error}`);
    if (status && status.steps >= minSteps && status.accuracy_points >= 1) break;
    if ((Date.now() - t0) / 1000 > timeoutS) throw new Error(`timed out after ${timeoutS} s`);
    await page.waitForTimeout(500);
  }
  if (status.tier !== tier) throw new Error(`expected tier ${tier}, the page chose ${status.tier}`);
} catch (e) {
  failure = e.message;
}
const timings = await page.evaluate(() => ({
  download_s: window.__curlora_download_s ?? null,
  first_frame_s: window.__curlora_first_frame_s ?? null,
  first_step_s: window.__curlora_first_step_s ?? null,
})).catch(() => ({}));
const shot = path.join(out, `web-${tier}.png`);
// Through CDP: Playwright's own screenshot first waits for the page's scripts, which may be busy
// with a training step on the CPU tier.
try {
  const cdp = await page.context().newCDPSession(page);
  const { data } = await cdp.send("Page.captureScreenshot", { format: "png" });
  fs.writeFileSync(shot, Buffer.from(data, "base64"));
} catch (e) {
  problems.push(`screenshot: ${e.message}`);
}
fs.writeFileSync(path.join(out, `web-${tier}.log`), log.join("\n") + "\n");
await browser.close();
server.close();

const summary = { tier, url, seconds: (Date.now() - t0) / 1000, status, timings, screenshot: shot,
  problems, failure };
fs.writeFileSync(path.join(out, `web-${tier}.json`), JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary, null, 2));
if (failure || problems.length) {
  console.error(`web e2e (${tier}) FAILED: ${failure ?? problems.join("; ")}`);
  console.error(log.slice(-30).join("\n"));
  process.exit(1);
}
console.log(`web e2e (${tier}) passed`);
