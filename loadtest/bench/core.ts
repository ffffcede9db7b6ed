/**
 * Core figures of the canvas, measured on the real local stack (`wrangler dev`, workerd):
 * - snapshot size and time for an empty and a random 1000×1000 canvas;
 * - cold start of the Canvas Durable Object with a full random canvas in storage (its constructor
 *   loads every tile and replays the log), and the time to a client's hello after a restart.
 *
 * Run: `npm run bench:core [-- --json FILE]`. Prints a table and writes JSON.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { fetchSnapshot } from "../client.ts";
import { startStack } from "../stack.ts";
import { fillRandom, hello, UNLIMITED_VARS } from "./common.ts";

const { values } = parseArgs({ options: { json: { type: "string" } } });

async function snapshot(url: string) {
  const started = performance.now();
  const { decoded, gzipBytes, rawBytes } = await fetchSnapshot(url, 32);
  const fetchMs = performance.now() - started;
  if (!decoded.ok) throw new Error(decoded.error.message);
  return { gzipBytes, rawBytes, fetchMs, seq: decoded.value.seq };
}

const vars = UNLIMITED_VARS;
console.log("starting wrangler dev…");
let stack = await startStack({ vars });
const figures: Record<string, unknown> = {};
try {
  await new Promise((r) => setTimeout(r, 200));
  figures.emptySnapshot = await snapshot(stack.url);
  await fillRandom(stack.wsUrl, 50_000);
  await new Promise((r) => setTimeout(r, 1100)); // past the edge cache's second
  figures.randomSnapshot = await snapshot(stack.url);
  const persistTo = stack.persistTo;
  await stack.stop();
  console.log("restarting on the same state…");
  stack = await startStack({ vars, persistTo });
  // The health check that declared the stack up woke the object; read what its constructor measured.
  const health: unknown = await (await fetch(`${stack.url}/api/health`)).json();
  const canvas: unknown = typeof health === "object" && health !== null ? Reflect.get(health, "canvas") : undefined;
  const coldStartMs: unknown =
    typeof canvas === "object" && canvas !== null ? Reflect.get(canvas, "coldStartMs") : undefined;
  if (typeof coldStartMs !== "number") throw new Error("/api/health did not report coldStartMs");
  figures.coldStart = { constructorMs: coldStartMs };
  const first = await hello(stack.wsUrl);
  first.ws.close();
  figures.helloAfterRestartMs = first.ms;
} finally {
  await stack.stop();
}

const e = figures.emptySnapshot as { gzipBytes: number; rawBytes: number; fetchMs: number };
const r = figures.randomSnapshot as { gzipBytes: number; rawBytes: number; fetchMs: number };
const c = figures.coldStart as { constructorMs: number };
console.log(`
| figure | value |
|---|---|
| snapshot, empty 1000×1000 | ${e.gzipBytes.toLocaleString()} B gzip (${e.rawBytes.toLocaleString()} B raw), ${e.fetchMs.toFixed(1)} ms |
| snapshot, random 32 colours | ${r.gzipBytes.toLocaleString()} B gzip (${r.rawBytes.toLocaleString()} B raw), ${r.fetchMs.toFixed(1)} ms |
| cold start, full random canvas (constructor: tiles + log) | ${c.constructorMs.toFixed(1)} ms |
| first hello after a restart (incl. cold start) | ${(figures.helloAfterRestartMs as number).toFixed(1)} ms |
`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(figures, null, 2)}\n`);
