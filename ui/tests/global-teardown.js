import { stop } from "./server.js";

export default async function globalTeardown() {
  stop();
}
