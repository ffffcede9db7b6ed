/**
 * @module bench/micro
 * Micro-benchmarks of the hot path, in Node (V8, as workerd): what the Canvas Durable Object and the
 * edge spend per placement and per frame outside the runtime's own socket work. Each case runs in
 * rounds after a warm-up; the median round gives ns per operation.
 *
 * Run: `npm run bench:micro [-- --json FILE]`.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { prng } from "../../test/support/random.ts";
import { CanvasState } from "../../worker/canvas/canvas-state.ts";
import { FrameRing } from "../../worker/canvas/frame-ring.ts";
import { Hub } from "../../worker/canvas/hub.ts";
import { decodeClientMessage, encodePixels, encodePlace, type Pixel } from "../../worker/protocol.ts";
import { TokenBucket } from "../../worker/token-bucket.ts";

const { values } = parseArgs({ options: { json: { type: "string" } } });
const bounds = { width: 1000, height: 1000, paletteSize: 32 };
const random = prng(1);
const pixel = (): Pixel => ({
  x: Math.floor(random() * 1000),
  y: Math.floor(random() * 1000),
  colour: Math.floor(random() * 32),
});
const one = [pixel()];
const batch1000 = Array.from({ length: 1000 }, pixel);
const placeOne = encodePlace(1, one);
const place256 = encodePlace(2, batch1000.slice(0, 256));

const canvas = new CanvasState(1000, 1000);
const ring = new FrameRing(2048, 16 * 1024 * 1024);
let ringSeq = 0;
const frameBytes = encodePixels(1, batch1000.slice(0, 10));

let sink = 0; // keeps results alive so the work is not optimised away

/** Median ns per operation of `fn` (which performs `opsPerCall` operations) over rounds. */
function bench(name: string, opsPerCall: number, fn: () => void): { name: string; nsPerOp: number; opsPerS: number } {
  const roundMs = 100;
  const rounds: number[] = [];
  for (let warm = performance.now(); performance.now() - warm < 100; ) fn();
  for (let r = 0; r < 9; r++) {
    let calls = 0;
    const start = performance.now();
    while (performance.now() - start < roundMs) {
      fn();
      calls++;
    }
    rounds.push(((performance.now() - start) * 1e6) / (calls * opsPerCall));
  }
  rounds.sort((a, b) => a - b);
  const nsPerOp = rounds[4] ?? Number.NaN;
  return { name, nsPerOp, opsPerS: 1e9 / nsPerOp };
}

const results = [
  bench("edge: decode + validate a 1-pixel Place", 1, () => {
    const d = decodeClientMessage(placeOne, bounds);
    sink += d.ok ? 1 : 0;
  }),
  bench("edge: decode + validate a 256-pixel Place (per pixel)", 256, () => {
    const d = decodeClientMessage(place256, bounds);
    sink += d.ok ? 1 : 0;
  }),
  bench("edge: re-encode a 1-pixel Place", 1, () => {
    sink += encodePlace(3, one).length;
  }),
  bench("edge: token bucket take", 1000, () => {
    const b = new TokenBucket(1e9, 1e9, 0);
    for (let i = 0; i < 1000; i++) sink += b.take(1, i) ? 1 : 0;
  }),
  bench("canvas: hub add 1,000 placements + drain (per placement)", 1000, () => {
    const hub = new Hub<number>(20, 0);
    for (let i = 0; i < 1000; i++) hub.add({ origin: i, nonce: i, pixels: [batch1000[i] as Pixel] });
    sink += hub.drain(0).length;
  }),
  bench("canvas: encode a 1,000-pixel Pixels frame (per pixel)", 1000, () => {
    sink += encodePixels(1, batch1000).length;
  }),
  bench("canvas: apply 1,000 pixels to the canvas + dirty tiles (per pixel)", 1000, () => {
    canvas.apply(batch1000);
  }),
  bench("canvas: push a frame into the ring", 1, () => {
    ring.push({ seq: ++ringSeq, bytes: frameBytes });
  }),
];

console.log("case                                                         ns/op        ops/s");
for (const r of results) {
  console.log(
    `${r.name.padEnd(60)} ${r.nsPerOp.toFixed(1).padStart(8)} ${Math.round(r.opsPerS).toLocaleString("en-US").padStart(14)}`,
  );
}
if (values.json) writeFileSync(values.json, `${JSON.stringify({ results, sink: sink > 0 }, null, 2)}\n`);
