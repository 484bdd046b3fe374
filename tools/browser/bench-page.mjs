// The live page under a large window, in Debian's chromium: waits until
// the page holds `points` price points, then paints `frames` frames back to
// back (window.fiatlineBench) and prints, as JSON, the renderer, the
// points drawn, the frame times (ms), the time the snapshot took to arrive
// and draw, and the page's JavaScript heap.
//
// node tools/browser/bench-page.mjs URL points frames [canvas]
import { launch } from "./launch.mjs";

const [url, points, frames = "120", renderer = ""] = process.argv.slice(2);
const browser = await launch();
let result = { ok: false };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  const start = Date.now();
  await page.goto(renderer === "canvas" ? url + "?renderer=canvas" : url);
  // Every point held and a frame painted with them.
  await page.waitForFunction(n => points.length >= n && Number(document.getElementById("chart").dataset.points) > 0,
    Number(points), { timeout: 120000, polling: 100 });
  const loaded = Date.now() - start;
  const times = await page.evaluate(n => window.fiatlineBench(n), Number(frames));
  times.sort((a, b) => a - b);
  const pct = p => times[Math.min(times.length - 1, Math.floor(times.length * p))];
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const metrics = Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map(m => [m.name, m.value]));
  result = {
    ok: true,
    renderer: await page.evaluate(() => document.getElementById("chart").dataset.renderer),
    drawn: await page.evaluate(() => Number(document.getElementById("chart").dataset.points)),
    held: await page.evaluate(() => points.length),
    frames: times.length,
    p50: pct(0.5), p99: pct(0.99), max: times[times.length - 1],
    loadedMs: loaded,
    heapMb: metrics.JSHeapUsedSize / 1e6,
    errors,
  };
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
