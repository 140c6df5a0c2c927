// The console in a real Chromium against a real `dqgate serve` (see
// server.js): the steward's and the dashboard reader's paths end to end.
// Each page visited leaves a screenshot under test-results/screenshots.
import { test, expect } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { state, api, ADMIN, repo } from "./server.js";

test.describe.configure({ mode: "serial" });

const SHOTS = "test-results/screenshots";
const shot = (page, name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

// What went wrong in the page: CSP violations and other console errors,
// exceptions, and answers >= 400 other than the ones a test provokes.
function watch(page, allowed = []) {
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !/^Failed to load resource/.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("response", (r) => {
    if (r.status() >= 400 && !allowed.includes(r.status())) problems.push(`${r.status()} ${r.url()}`);
  });
  return problems;
}

async function signIn(page, token) {
  await page.goto(`${state().base}/signin`);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
}

const editor = (page) => page.locator(".cm-content");

async function replaceText(page, text) {
  await editor(page).click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  // Typing char by char would let closeBrackets add closing brackets.
  await page.keyboard.insertText(text);
}

const WITH_TYPO = [
  "Rules = [",
  "    RowCount > 100,",
  "    IsComplet \"session_id\",",
  "    ColumnValues \"price\" > 0",
  "]",
].join("\n");
const FIXED = WITH_TYPO.replace("IsComplet ", "IsComplete ");

test("sign-in refuses a wrong token and opens the overview with a right one", async ({ page }) => {
  const problems = watch(page, [401]);
  await page.goto(`${state().base}/`);
  await expect(page).toHaveURL(/\/signin$/);
  await page.getByLabel("Token").fill("not-a-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByText("unknown token")).toBeVisible();
  await shot(page, "signin");
  await signIn(page, ADMIN);
  expect(problems).toEqual([]);
});

test("the editor underlines an error on its line, then saves versions and diffs them", async ({ page }) => {
  const problems = watch(page);
  await signIn(page, ADMIN);
  await page.getByRole("link", { name: "Rulesets" }).click();
  await page.getByLabel("Name").fill("sessions_basics");
  await page.getByRole("button", { name: "Write it" }).click();
  await expect(page.getByRole("heading", { name: "Edit sessions_basics" })).toBeVisible();
  await replaceText(page, WITH_TYPO);
  // The validator's error is underlined on line 3, where the typo is.
  const mark = page.locator(".cm-lintRange-error").first();
  await expect(mark).toBeVisible();
  const line = await mark.evaluate((el) => {
    const lines = [...el.closest(".cm-content").querySelectorAll(".cm-line")];
    return lines.indexOf(el.closest(".cm-line")) + 1;
  });
  expect(line).toBe(3);
  await expect(mark).toHaveText(/IsComplet/);
  await mark.hover();
  await expect(page.locator(".cm-tooltip-lint")).toContainText(/IsComplet/);
  await shot(page, "editor-error");
  await replaceText(page, FIXED);
  await expect(page.locator(".cm-lintRange-error")).toHaveCount(0);
  await expect(page.locator(".dqdl-editor-host")).toHaveAttribute("data-lint", "valid");
  await page.getByLabel("Why this change").fill("first checks");
  await page.getByRole("button", { name: "Save as a new version" }).click();
  await expect(page).toHaveURL(/\/rulesets\/sessions_basics\?version=1$/);

  await page.goto(`${state().base}/rulesets/sessions_basics/edit`);
  await replaceText(page, FIXED.replace("RowCount > 100", "RowCount > 200"));
  await page.getByLabel("Why this change").fill("raise the floor");
  await page.getByRole("button", { name: "Save as a new version" }).click();
  await expect(page).toHaveURL(/\/rulesets\/sessions_basics\?version=2$/);
  await shot(page, "ruleset");
  await page.goto(`${state().base}/rulesets/sessions_basics/diff?from=1&to=2`);
  await expect(page.locator(".diff")).toContainText("RowCount > 100");
  await expect(page.locator(".diff")).toContainText("RowCount > 200");
  await shot(page, "diff");
  expect(problems).toEqual([]);
});

test("completion offers rule types with signatures and the chosen dataset's columns", async ({ page }) => {
  const problems = watch(page);
  await signIn(page, ADMIN);
  await page.goto(`${state().base}/rulesets/completion_demo/edit`);
  await replaceText(page, "Rules = [\n    ColumnVal");
  await page.keyboard.press("Control+Space");
  const option = page.locator(".cm-tooltip-autocomplete li", { hasText: "ColumnValues" });
  await expect(option).toBeVisible();
  await page.keyboard.press("Enter");
  await page.keyboard.insertText(" \"pri");
  await page.keyboard.press("Control+Space");
  await expect(page.locator(".cm-tooltip-autocomplete li", { hasText: "price" })).toBeVisible();
  await shot(page, "editor-completion");
  expect(problems).toEqual([]);
});

test("Try it shows each rule's result and records nothing", async ({ page }) => {
  const problems = watch(page);
  const s = state();
  await signIn(page, ADMIN);
  await page.goto(`${s.base}/rulesets/sessions_basics/edit`);
  await page.getByLabel("Dataset", { exact: true }).selectOption("sessions");
  await page.getByRole("button", { name: "Try it" }).click();
  const tried = page.locator("section.tried");
  await expect(tried).toBeVisible();
  await expect(tried.locator("tbody tr")).toHaveCount(3);
  await expect(tried).toContainText("RowCount > 200");
  // The demo data has negative prices: that rule fails.
  await expect(tried.locator("tbody tr", { hasText: "ColumnValues" }).locator(".badge")).toHaveText("Failed");
  await expect(tried.locator("tbody tr", { hasText: "RowCount" }).locator(".badge")).toHaveText("Passed");
  await shot(page, "try-it");
  const runs = await api(s.base, ADMIN, "GET", "/v1/runs?dataset=sessions");
  expect(runs.runs ?? runs).toHaveLength(0);
  expect(problems).toEqual([]);
});

test("a gate run shows on the overview, the dataset page and its run page", async ({ page }) => {
  const problems = watch(page);
  const s = state();
  const text = readFileSync(join(repo, "rulesets", "deftunes", "sessions.dqdl"), "utf8");
  await api(s.base, ADMIN, "PUT", "/v1/rulesets/deftunes_sessions", text, "text/plain");
  const answer = await api(s.base, ADMIN, "POST", "/v1/gate", {
    dataset: "sessions", ruleset: "deftunes_sessions", stage: "landing", run_id: "browser-landing-1",
    aliases: { users: "users", songs: "songs" },
  });
  expect(answer.decision).toBe("fail");
  await signIn(page, ADMIN);
  const row = page.locator("tbody tr", { hasText: "sessions" }).filter({ hasText: "landing" });
  await expect(row.locator(".badge")).toHaveText("fail");
  await shot(page, "overview");
  await row.getByRole("link", { name: "sessions" }).click();
  await expect(page.getByRole("heading", { name: "sessions", exact: true })).toBeVisible();
  await expect(page.locator("#schema table")).toContainText("session_id");
  const runRow = page.locator("section[aria-labelledby=runs] tbody tr").first();
  await expect(runRow).toContainText("deftunes_sessions v1");
  await runRow.getByRole("link").first().click();
  await expect(page.locator(".badge.big")).toHaveText("fail");
  const failed = page.locator("li.rule", { has: page.locator(".badge[data-outcome=Failed]") });
  await expect(failed.filter({ hasText: "IsUnique \"session_id\"" })).toHaveCount(1);
  await expect(failed.filter({ hasText: "ColumnValues \"price\" > 0" })).toHaveCount(1);
  // A sample of the failing rows (failed_rows_sample, default 20): the
  // price rule's rows have a price that is not > 0, or none (NULL fails).
  await expect(page.getByRole("heading", { name: "Failing rows" })).toBeVisible();
  const sample = page.locator("table.sample", { has: page.locator("caption", { hasText: "ColumnValues \"price\" > 0" }) });
  await expect(sample).toHaveCount(1);
  const priceColumn = await sample.locator("thead th").evaluateAll((ths) => ths.findIndex((th) => th.textContent === "price"));
  expect(priceColumn).toBeGreaterThanOrEqual(0);
  const prices = await sample.locator("tbody tr").evaluateAll((rows, i) => rows.map((r) => r.children[i].textContent), priceColumn);
  expect(prices.length).toBeGreaterThan(0);
  expect(prices.length).toBeLessThanOrEqual(20);
  expect(prices.filter((p) => !(p === "NULL" || Number(p) <= 0))).toEqual([]);
  await shot(page, "run");
  expect(problems).toEqual([]);
});

test("the gate button runs a saved ruleset from the dataset page", async ({ page }) => {
  const problems = watch(page);
  await signIn(page, ADMIN);
  await page.goto(`${state().base}/datasets/sessions`);
  await page.getByLabel("Ruleset (latest version)").selectOption("sessions_basics");
  await page.locator("#gate-stage").fill("console");
  await page.getByRole("button", { name: "Run the gate" }).click();
  await expect(page).toHaveURL(/\/runs\//);
  await expect(page.locator(".badge.big")).toHaveText("fail");
  expect(problems).toEqual([]);
});

test("the trend chart draws values and a band, and a point can be marked expected and back", async ({ page }) => {
  const problems = watch(page);
  const s = state();
  await api(s.base, ADMIN, "PUT", "/v1/rulesets/row_watch", "Rules = [ DetectAnomalies \"RowCount\" ]", "text/plain");
  for (let day = 1; day <= 9; day++) {
    await api(s.base, ADMIN, "POST", "/v1/gate", { dataset: "sessions", ruleset: "row_watch", stage: "daily", run_id: `row-watch-${day}` });
  }
  await signIn(page, ADMIN);
  await page.goto(`${s.base}/datasets/sessions?stage=daily&metric=${encodeURIComponent("Dataset.*.RowCount")}#trend`);
  const chart = page.locator("section[aria-labelledby=trend] figure.chart");
  await expect(chart.locator("canvas")).toBeVisible();
  await expect(chart).toHaveAttribute("data-points", /^[1-9]/);
  const drawn = await page.locator("table[data-chart=band]").evaluate((t) => ({
    values: t.dqChart.data[3].filter((v) => v !== null).length,
    lower: t.dqChart.data[1].filter((v) => v !== null).length,
    upper: t.dqChart.data[2].filter((v) => v !== null).length,
  }));
  expect(drawn.values).toBe(9);
  // DetectAnomalies has a band once 5 values of history exist: runs 6 to 9.
  expect(drawn.lower).toBe(4);
  expect(drawn.upper).toBe(drawn.lower);
  await shot(page, "dataset-trend");
  await page.locator("section[aria-labelledby=trend]").screenshot({ path: `${SHOTS}/trend-section.png` });

  // Click the newest value on the chart: confirm, and it is excluded.
  const where = await page.locator("table[data-chart=band]").evaluate((t) => {
    const u = t.dqChart;
    const i = u.data[0].length - 1;
    const box = u.over.getBoundingClientRect();
    // The newest point sits on the plot's right edge: stay just inside.
    const x = Math.min(box.left + u.valToPos(u.data[0][i], "x"), box.right - 3);
    return { x, y: box.top + u.valToPos(u.data[3][i], "y") };
  });
  page.once("dialog", (d) => d.accept());
  const posted = page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/expected"));
  await page.mouse.move(where.x, where.y);
  await page.mouse.click(where.x, where.y);
  await posted;
  await page.waitForLoadState();
  const newest = page.locator("table[data-chart=band] tbody tr").last();
  await expect(newest).toContainText("excluded (expected)");
  await newest.getByRole("button", { name: /train again/ }).click();
  await expect(page.locator("table[data-chart=band] tbody tr").last()).not.toContainText("excluded (expected)");
  expect(problems).toEqual([]);
});

test("a viewer sees no edit controls and a forged save is refused", async ({ page }) => {
  const problems = watch(page, [403]);
  const s = state();
  await signIn(page, s.viewer);
  await page.goto(`${s.base}/rulesets/sessions_basics`);
  await expect(page.getByRole("heading", { name: /sessions_basics/ })).toBeVisible();
  await expect(page.getByRole("link", { name: /edit/i })).toHaveCount(0);
  await expect(page.getByRole("button", { name: /restore/i })).toHaveCount(0);
  await page.goto(`${s.base}/datasets/sessions`);
  await expect(page.getByRole("button", { name: "Run the gate" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Mark expected" })).toHaveCount(0);
  await shot(page, "viewer-dataset");
  const csrf = await page.locator("form.who input[name=csrf]").inputValue();
  const forged = await page.request.post(`${s.base}/rulesets/sessions_basics`, {
    form: { csrf, text: "Rules = [ RowCount > 0 ]", intent: "save" },
    maxRedirects: 0,
  });
  expect(forged.status()).toBe(403);
  const versions = await api(s.base, ADMIN, "GET", "/v1/rulesets/sessions_basics/versions");
  expect((versions.versions ?? versions).length).toBe(2);
  const edit = await page.goto(`${s.base}/rulesets/sessions_basics/edit`);
  expect(edit.status()).toBe(403);
  expect(problems).toEqual([]);
});

test("the overview filters by stage, decision and failing-rule label, with sparklines", async ({ page }) => {
  const problems = watch(page);
  await signIn(page, ADMIN);
  // sessions × daily has 9 scores: a sparkline; × landing has one: none.
  const daily = page.locator("tbody tr", { hasText: "daily" });
  await expect(daily.locator("svg.spark polyline")).toHaveCount(1);
  await page.getByLabel("Failing rule label").selectOption("severity=warn");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/label=severity%3Dwarn/);
  await expect(page.locator("tbody tr")).toHaveCount(1);
  await expect(page.locator("tbody tr")).toContainText("landing");
  await page.goto(`${state().base}/?decision=pass`);
  await expect(page.locator("tbody tr")).toHaveCount(1);
  await expect(page.locator("tbody tr")).toContainText("daily");
  await page.goto(`${state().base}/`);
  await shot(page, "overview-all");
  expect(problems).toEqual([]);
});

test("the tokens page lists tokens for an admin", async ({ page }) => {
  const problems = watch(page);
  await signIn(page, ADMIN);
  await page.getByRole("link", { name: "Tokens" }).click();
  await expect(page.locator("table")).toContainText("watcher");
  await shot(page, "tokens");
  expect(problems).toEqual([]);
});
