// The server under test: a real `dqgate serve` on a free loopback port with
// a temporary SQLite store and the demo data, seeded through the JSON API.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, "..", "..");
export const STATE = join(here, "..", "test-results", "server.json");
export const ADMIN = "admin-token-for-browser-tests";

export function binary() {
  const bin = process.env.DQGATE_BIN;
  if (!bin) throw new Error("set DQGATE_BIN to a built dqgate binary (e.g. $CARGO_TARGET_DIR/debug/dqgate)");
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(base, child) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dqgate serve exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("dqgate serve did not become healthy in 30 s");
}

export async function api(base, token, method, path, body, type = "application/json") {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = type;
  const r = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : type === "application/json" ? JSON.stringify(body) : body,
  });
  const text = await r.text();
  if (!r.ok && r.status !== 202) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export async function start() {
  const dir = mkdtempSync(join(tmpdir(), "dqgate-ui-"));
  const demo = join(dir, "demo");
  execFileSync(binary(), ["demo", "--out", demo, "--rows", "3000", "--no-register"], { stdio: "ignore", cwd: dir });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(binary(), ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", join(dir, "data"), "--allowed-paths", dir], {
    cwd: dir,
    env: { ...process.env, DQGATE_ADMIN_TOKEN: ADMIN, RUST_LOG: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
    detached: false,
  });
  await waitHealthy(base, child);
  for (const [name, location] of [["sessions", join(demo, "sessions")], ["users", join(demo, "users.parquet")], ["songs", join(demo, "songs.parquet")]]) {
    await api(base, ADMIN, "PUT", `/v1/datasets/${name}`, { format: "parquet", location });
  }
  const viewer = await api(base, ADMIN, "POST", "/v1/tokens", { name: "watcher", role: "viewer" });
  const state = { base, dir, pid: child.pid, viewer: viewer.token, demo };
  writeFileSync(STATE, JSON.stringify(state));
  child.unref();
  return state;
}

export function state() {
  return JSON.parse(readFileSync(STATE, "utf8"));
}

export function stop() {
  let s;
  try {
    s = state();
  } catch {
    return;
  }
  try {
    process.kill(s.pid, "SIGTERM");
  } catch {
    // already gone
  }
  rmSync(s.dir, { recursive: true, force: true });
  rmSync(STATE, { force: true });
}
