import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { start, STATE } from "./server.js";

export default async function globalSetup() {
  mkdirSync(dirname(STATE), { recursive: true });
  await start();
}
