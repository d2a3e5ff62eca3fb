// End-to-end test of the web build in headless Chromium (Debian's `chromium`), driven by
// npm's playwright-core (never its own browser download).
//
//   node web/e2e.mjs --dist dist --tier webgpu --out target/web-e2e [--hash '#rows=32&epochs=1']
//
// Serves dist/ on localhost, opens the page, waits until the app has trained a few steps on the
// expected tier and the accuracy view has points, saves a screenshot, and fails on any panic,
// page error or console error. `--tier webgpu` starts Chromium with SwiftShader's WebGPU;
// `--tier cpu` starts it without, so the page must fall back to the CPU by itself.
// `--tour 1 --hash '#tour=1'` instead walks the guided tour to its end with the arrow key (nine
// steps, each with its title, nothing trained) and saves screenshots of steps 1 and 6.
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
  ".gz": "application/gzip",
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
const waitFor = async (what, ok) => {
  while (true) {
    status = await page.evaluate(() => window.__curlora ?? null);
    if (problems.length) throw new Error("console errors");
    if (status && ok(status)) return;
    if ((Date.now() - t0) / 1000 > timeoutS) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(200);
  }
};
const tourShots = [];
try {
  await page.goto(url);
  if (args.tour) {
    // The guided tour, driven as a visitor would: the arrow key, step after step, to its end.
    await waitFor("the tour's first step", (s) => s.tour_step === 0);
    await page.mouse.click(640, 400);
    const titles = [];
    for (let k = 0; ; k++) {
      titles.push(status.tour_title);
      if (k === 0 || k === 5) {
        const cdp = await page.context().newCDPSession(page);
        const { data } = await cdp.send("Page.captureScreenshot", { format: "png" });
        const file = path.join(out, `web-tour-${k + 1}.png`);
        fs.writeFileSync(file, Buffer.from(data, "base64"));
        tourShots.push(file);
      }
      await page.keyboard.press("ArrowRight");
      if (k === 8) break;
      await waitFor(`tour step ${k + 2}`, (s) => s.tour_step === k + 1);
    }
    await waitFor("the tour's end", (s) => s.tour_step === null && s.tour_seen);
    if (titles.length !== 9 || titles.some((t) => !t)) {
      throw new Error(`the tour showed ${JSON.stringify(titles)}`);
    }
    if (status.steps !== 0 && status.device !== "none (replay)") {
      throw new Error("the tour trained instead of replaying");
    }
    status.tour_titles = titles;
  }
  while (!args.tour) {
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
const shot = path.join(out, args.tour ? `web-tour-end.png` : `web-${tier}.png`);
// Through CDP: Playwright's own screenshot first waits for the page's scripts, which may be busy
// with a training step on the CPU tier.
try {
  const cdp = await page.context().newCDPSession(page);
  const { data } = await cdp.send("Page.captureScreenshot", { format: "png" });
  fs.writeFileSync(shot, Buffer.from(data, "base64"));
} catch (e) {
  problems.push(`screenshot: ${e.message}`);
}
const name = args.tour ? "web-tour" : `web-${tier}`;
fs.writeFileSync(path.join(out, `${name}.log`), log.join("\n") + "\n");
await browser.close();
server.close();

const summary = { tier, url, seconds: (Date.now() - t0) / 1000, status, timings, screenshot: shot,
  tour_screenshots: tourShots, problems, failure };
fs.writeFileSync(path.join(out, `${name}.json`), JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary, null, 2));
if (failure || problems.length) {
  console.error(`web e2e (${tier}) FAILED: ${failure ?? problems.join("; ")}`);
  console.error(log.slice(-30).join("\n"));
  process.exit(1);
}
console.log(`web e2e (${tier}) passed`);
