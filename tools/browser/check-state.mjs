// Opens the live page in Debian's chromium until the status shows the
// server's state `state` (connected, catching up, finished, disconnected,
// failed, unreachable), and, with "estimate", a price; prints what the page
// says and how it is laid out, at desktop size (1280×800) and phone size
// (390×844), with a screenshot of each (NAME.png, NAME-phone.png).
//
// node tools/browser/check-state.mjs http://127.0.0.1:8080/ out.png timeout-ms state [estimate]
import { launch } from "./launch.mjs";

const [url, screenshot, timeout = "20000", state = "connected", expect = ""] = process.argv.slice(2);
const browser = await launch();
let result = { ok: false };
const sizes = [["desktop", 1280, 800, screenshot], ["phone", 390, 844, screenshot.replace(/\.png$/, "-phone.png")]];
try {
  const errors = [];
  for (const [name, width, height, path] of sizes) {
    const page = await browser.newPage({ viewport: { width, height } });
    page.on("pageerror", e => errors.push(String(e)));
    await page.goto(url);
    await page.waitForFunction(
      ([state, expect]) => document.getElementById("status").dataset.state === state
        && (expect !== "estimate" || document.getElementById("price").textContent.startsWith("$")),
      [state, expect], { timeout: Number(timeout) });
    // Let a poll or two land, then look.
    await page.waitForTimeout(2500);
    result[name] = await page.evaluate(async () => {
      const chart = document.getElementById("chart").getBoundingClientRect();
      const shown = id => document.getElementById(id).classList.contains("show")
        ? document.getElementById(id).textContent : null;
      return {
        state: document.getElementById("status").dataset.state,
        status: document.getElementById("status").textContent,
        dot: document.getElementById("dot").className,
        price: document.getElementById("price").textContent,
        asof: document.getElementById("asof").textContent,
        replay: shown("replay"),
        lowConfidence: shown("warning"),
        drawn: Number(document.getElementById("chart").dataset.points),
        chartBottom: Math.round(chart.bottom),
        viewport: window.innerHeight,
        scrolls: document.scrollingElement.scrollHeight > window.innerHeight,
        // The icon the page names is served, as an image.
        favicon: await fetch(document.querySelector("link[rel=icon]").href)
          .then(r => r.ok && r.headers.get("content-type") === "image/svg+xml"),
        renderer: document.getElementById("chart").dataset.renderer,
      };
    });
    await page.screenshot({ path });
    await page.close();
  }
  result.errors = errors;
  result.ok = true;
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
