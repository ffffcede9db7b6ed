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
import WebSocket from "ws";
import {
  decodeServerMessage,
  decodeSnapshot,
  encodeClientHello,
  encodePlace,
  gunzip,
  MAX_PLACE_PIXELS,
  Op,
  type Pixel,
} from "../../worker/protocol.ts";
import { startStack } from "../stack.ts";

const { values } = parseArgs({ options: { json: { type: "string" } } });
const SIDE = 1000;

async function snapshot(url: string) {
  const started = performance.now();
  const res = await fetch(`${url}/api/canvas`);
  const gz = new Uint8Array(await res.arrayBuffer());
  const fetchedMs = performance.now() - started;
  const raw = await gunzip(gz);
  const decoded = decodeSnapshot(raw, 32);
  if (!decoded.ok) throw new Error(decoded.error.message);
  return { gzipBytes: gz.length, rawBytes: raw.length, fetchMs: fetchedMs, seq: decoded.value.seq };
}

/** Connects, and resolves with the server hello and the time it took. */
function hello(wsUrl: string): Promise<{ ws: WebSocket; seq: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    ws.binaryType = "arraybuffer";
    ws.once("error", reject);
    ws.once("message", (data: ArrayBuffer) => {
      const m = decodeServerMessage(data);
      if (!m.ok || m.value.op !== Op.ServerHello) return reject(new Error("expected a hello"));
      ws.send(encodeClientHello());
      resolve({ ws, seq: m.value.seq, ms: performance.now() - started });
    });
  });
}

let lastPercent = -1;
/** A progress bar that redraws only when the percentage moves (every 10 % when not on a terminal). */
function progress(label: string, done: number, total: number) {
  const percent = Math.floor((done / total) * 100);
  const step = process.stdout.isTTY ? 1 : 10;
  if (percent === lastPercent || (percent % step !== 0 && done < total)) return;
  lastPercent = percent;
  const width = 30;
  const filled = Math.round((done / total) * width);
  const bar = `${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${percent}%`;
  if (process.stdout.isTTY) process.stdout.write(`\r${bar}${done >= total ? "\n" : ""}`);
  else console.log(bar);
}

/** Paints every pixel of the canvas a random colour, at the rate limit's pace, and waits for the last frame. */
async function fillRandom(wsUrl: string, rate: number): Promise<void> {
  const { ws } = await hello(wsUrl);
  let lastSeen = 0;
  ws.on("message", (data: ArrayBuffer) => {
    const seq = new DataView(data).getUint8(0) === Op.Pixels ? new DataView(data).getUint32(1) : undefined;
    if (seq !== undefined) lastSeen = seq;
  });
  const total = SIDE * SIDE;
  const perTick = Math.floor(rate / 50);
  let nonce = 1;
  for (let i = 0; i < total; ) {
    for (let sent = 0; sent < perTick && i < total; ) {
      const pixels: Pixel[] = [];
      while (pixels.length < MAX_PLACE_PIXELS && i < total && sent < perTick) {
        pixels.push({ x: i % SIDE, y: Math.floor(i / SIDE), colour: Math.floor(Math.random() * 32) });
        i++;
        sent++;
      }
      ws.send(encodePlace(nonce++, pixels));
    }
    progress("filling 1000×1000 with random colours", i, total);
    await new Promise((r) => setTimeout(r, 20));
  }
  // Wait for the broadcasts to stop: the last placement has been stored and sent.
  for (let quiet = 0, previous = -1; quiet < 5; ) {
    await new Promise((r) => setTimeout(r, 100));
    quiet = lastSeen === previous ? quiet + 1 : 0;
    previous = lastSeen;
  }
  ws.close();
}

const vars = {
  RATE_LIMIT_PIXELS_PER_SECOND: "65535",
  RATE_LIMIT_PIXEL_BURST: "65535",
  RATE_LIMIT_FRAMES_PER_SECOND: "100000",
};
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
  const health = (await (await fetch(`${stack.url}/api/health`)).json()) as {
    canvas: { coldStartMs: number; seq: number };
  };
  figures.coldStart = { constructorMs: health.canvas.coldStartMs, seq: health.canvas.seq };
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
