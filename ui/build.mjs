// Bundles the console's JavaScript islands with esbuild into
// src/console/assets/, where the server embeds them. The bundles are
// committed; `node build.mjs --check` rebuilds into memory and fails when
// they differ from the committed files or exceed the size budget.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "console", "assets");
const check = process.argv.includes("--check");
const BUDGET = 600 * 1024;

const entries = { "editor.js": "src/editor.js", "charts.js": "src/charts.js", "htmx.js": "src/htmx.js" };

const outputs = {};
for (const [name, entry] of Object.entries(entries)) {
  const result = await build({
    entryPoints: [join(here, entry)],
    bundle: true,
    minify: true,
    format: "iife",
    target: "es2020",
    legalComments: "eof",
    write: false,
    logLevel: "warning",
  });
  outputs[name] = result.outputFiles[0].text;
}
outputs["charts.css"] = readFileSync(join(here, "node_modules", "uplot", "dist", "uPlot.min.css"), "utf8");

let total = 0;
let stale = [];
for (const [name, text] of Object.entries(outputs)) {
  const path = join(out, name);
  if (name.endsWith(".js")) total += Buffer.byteLength(text);
  console.log(`${name.padEnd(12)} ${(Buffer.byteLength(text) / 1024).toFixed(1).padStart(7)} KiB`);
  if (check) {
    let committed = "";
    try { committed = readFileSync(path, "utf8"); } catch { committed = null; }
    if (committed !== text) stale.push(name);
  } else {
    writeFileSync(path, text);
  }
}
console.log(`JavaScript  ${(total / 1024).toFixed(1).padStart(7)} KiB in all (budget ${BUDGET / 1024} KiB)`);
if (total > BUDGET) {
  console.error("the JavaScript bundles exceed the budget");
  process.exit(1);
}
if (stale.length) {
  console.error(`the committed bundles differ from a fresh build: ${stale.join(", ")}; run \`npm run build\` under ui/ and commit`);
  process.exit(1);
}
