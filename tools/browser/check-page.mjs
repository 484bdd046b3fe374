// Opens the live page in Debian's chromium, waits (in real time) until the
// price is shown and points are drawn, prints what it saw as JSON, and
// saves a screenshot. Exits 1 if the page does not get there in time.
//
// node tools/browser/check-page.mjs http://127.0.0.1:8080/ out.png [timeout-ms] [exchange-warning]
//
// With "exchange-warning", it also waits until the page warns that the
// on-chain and exchange prices differ.
import { launch } from "./launch.mjs";

const [url, screenshot, timeout = "20000", expect = ""] = process.argv.slice(2);
const browser = await launch();
let result = { ok: false };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(
    () => document.getElementById("price").textContent.startsWith("$")
      && Number(document.getElementById("chart").dataset.points) > 50,
    null, { timeout: Number(timeout) });
  if (expect === "exchange-warning") {
    await page.waitForFunction(
      () => document.getElementById("xwarning").classList.contains("show"),
      null, { timeout: Number(timeout) });
  }
  // Let a few more deltas land, then look.
  await page.waitForTimeout(1500);
  result = await page.evaluate(() => ({
    price: document.getElementById("price").textContent,
    confidence: document.getElementById("confidence").textContent,
    status: document.getElementById("status").textContent,
    drawn: Number(document.getElementById("chart").dataset.points),
    exchangeShown: !document.getElementById("xstat").hidden,
    historyShown: !document.getElementById("history").hidden,
    exchange: document.getElementById("exchange").textContent,
    exchangeNote: document.getElementById("xnote").textContent,
    exchangeWarning: document.getElementById("xwarning").classList.contains("show")
      ? document.getElementById("xwarning").textContent : null,
  }));
  // Hover the densest row of points: the tooltip must show.
  const box = await page.locator("#chart").boundingBox();
  for (let x = box.x + 100; x < box.x + box.width - 20 && !result.tooltip; x += 7) {
    await page.mouse.move(x, box.y + box.height / 2);
    const tip = await page.evaluate(() => {
      const t = document.getElementById("tip");
      return t.style.display === "block" ? t.textContent : null;
    });
    if (tip) result.tooltip = tip;
  }
  await page.screenshot({ path: screenshot });
  result.errors = errors;
  result.ok = true;
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
