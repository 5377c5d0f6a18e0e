// Drives the Airflow 3 UI in headless Debian Chromium (playwright-core, no downloaded browser):
// open a DAG, unpause it, fill the trigger form's `tables` parameter, trigger, wait until the run page shows
// the run's final state, and take a screenshot. Prints one JSON line: {"runId", "state", "url", "wasPaused"}.
//
// Usage: node trigger.mjs <base-url> <dag-id> <tables, one per line or comma-separated> <screenshot.png>
// Env: OBKAFKA_UI_TIMEOUT_S (default 150), CHROMIUM_PATH (default /usr/bin/chromium).
// Selectors are the UI's own data-testid attributes (Airflow 3.3), found by inspecting the served DOM.
import { chromium } from "playwright-core";

const [base, dagId, tablesArg, screenshot] = process.argv.slice(2);
if (!base || !dagId || tablesArg === undefined || !screenshot) {
  console.error("usage: node trigger.mjs <base-url> <dag-id> <tables> <screenshot.png>");
  process.exit(2);
}
const timeoutMs = Number(process.env.OBKAFKA_UI_TIMEOUT_S || 150) * 1000;
const deadline = Date.now() + timeoutMs;
const left = () => Math.max(1000, deadline - Date.now());
const tables = tablesArg.split(/[\n,]/).map((t) => t.trim()).filter(Boolean);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
const t0 = Date.now();
const step = (text) => console.error(`[ui +${((Date.now() - t0) / 1000).toFixed(1)}s] ${text}`);

try {
  // The DAG appears once the dag-processor has parsed the project file: reload until its page has a Trigger button.
  step(`open ${base}/dags/${dagId}`);
  for (;;) {
    await page.goto(`${base}/dags/${dagId}`, { waitUntil: "domcontentloaded" });
    try {
      await page.getByTestId("trigger-dag-button").waitFor({ timeout: 5000 });
      await page.getByTestId("toggle-pause").waitFor({ timeout: 5000 });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`DAG ${dagId} did not appear in the UI`);
      await page.waitForTimeout(2000);
    }
  }

  // The pause switch: a checkbox inside label[data-testid=toggle-pause]; checked means active (unpaused).
  const pauseInput = page.getByTestId("toggle-pause").locator("input");
  const wasPaused = !(await pauseInput.isChecked());
  if (wasPaused) {
    step("unpause the DAG");
    await page.getByTestId("toggle-pause").click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid="toggle-pause"] input')?.checked === true,
      null,
      { timeout: left() },
    );
  }

  step(`trigger with tables=${JSON.stringify(tables)}`);
  await page.getByTestId("trigger-dag-button").click();
  const dialog = page.getByRole("dialog");
  const tablesField = dialog.locator("textarea[name=element_tables]");
  await tablesField.waitFor({ timeout: left() });
  await tablesField.fill(tables.join("\n"));
  await page.waitForTimeout(500); // the form validates the parameters on change
  await dialog.getByTestId("trigger-dag-submit").click();

  // After a trigger the UI opens the new run's page: /dags/<dag>/runs/<run id>.
  await page.waitForURL(/\/runs\/[^/]+/, { timeout: left() });
  const runId = decodeURIComponent(page.url().split("/runs/")[1].split("/")[0].split("?")[0]);
  step(`run ${runId}: waiting for a final state`);
  const badge = page.getByTestId("header-card").getByTestId("state-badge");
  let state = "";
  while (Date.now() < deadline) {
    state = ((await badge.count()) ? await badge.first().innerText() : "").trim().toLowerCase();
    if (state === "success" || state === "failed") break;
    await page.waitForTimeout(2000);
  }
  // The grid view of the run shows every task instance; the run page's table lists them with their state.
  await page.waitForTimeout(1500);
  step(`run ${state}`);
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(JSON.stringify({ runId, state, url: page.url(), wasPaused }));
  await browser.close();
  process.exit(state === "success" ? 0 : 1);
} catch (err) {
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-error.png") }).catch(() => {});
  console.error(`[ui] failed at ${page.url()}: ${err.stack || err}`);
  await browser.close();
  process.exit(1);
}
