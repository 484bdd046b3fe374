// Opens the live page of a `serve --db` in Debian's chromium, waits until
// the history view has drawn its days, tries the range buttons and a
// hover, prints what it saw as JSON and saves a full-page screenshot.
// Exits 1 if the view does not get there in time.
//
// node tools/browser/check-history.mjs http://127.0.0.1:8080/ out.png [timeout-ms]
import { launch } from "./launch.mjs";

const [url, screenshot, timeout = "20000"] = process.argv.slice(2);
const browser = await launch();
let result = { ok: false };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(
    () => !document.getElementById("history").hidden
      && Number(document.getElementById("hchart").dataset.days) > 0,
    null, { timeout: Number(timeout) });
  const seen = () => page.evaluate(() => ({
    days: Number(document.getElementById("hchart").dataset.days),
    diverging: Number(document.getElementById("hchart").dataset.diverging),
    threshold: document.getElementById("hthr").textContent,
  }));
  result.all = await seen();
  // The last 7 days of what is stored, then all again.
  await page.click("#ranges button[data-days='7']");
  result.week = await seen();
  await page.click("#ranges button[data-days='0']");
  // Hover along the chart until the tooltip shows a day.
  await page.locator("#hchart").scrollIntoViewIfNeeded();
  const box = await page.locator("#hchart").boundingBox();
  for (let x = box.x + 90; x < box.x + box.width - 20 && !result.tooltip; x += 10) {
    await page.mouse.move(x, box.y + box.height / 2);
    result.tooltip = await page.evaluate(() => {
      const t = document.getElementById("htip");
      return t.style.display === "block" ? t.innerText : null;
    });
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  result.errors = errors;
  result.ok = true;
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
