/**
 * @module bench/common
 * Pieces the benchmarks share: limits that let one client place freely, a protocol hello, a
 * progress bar, and filling the whole canvas with random colours through the real protocol.
 */
import type WebSocket from "ws";
import {
  encodeClientHello,
  encodePlace,
  MAX_PLACE_PIXELS,
  type Pixel,
  pixelsFrameSeq,
  type ServerHello,
} from "../../worker/protocol.ts";
import { liveUrlOf, openLiveSocket, openSocket } from "../client.ts";

/** Per-connection limits raised to their maximum: benchmarks measure the system, not the limits. */
export const UNLIMITED_VARS = {
  RATE_LIMIT_PIXELS_PER_SECOND: "65535",
  RATE_LIMIT_PIXEL_BURST: "65535",
  RATE_LIMIT_FRAMES_PER_SECOND: "100000",
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connects, sends the client hello, and resolves with the server hello and the time it took. */
export async function hello(wsUrl: string): Promise<{ ws: WebSocket; hello: ServerHello; ms: number }> {
  const started = performance.now();
  const { ws, hello: h } = await openSocket(wsUrl);
  ws.send(encodeClientHello());
  return { ws, hello: h, ms: performance.now() - started };
}

/** A progress bar that redraws only when the percentage moves (every 10 % when not on a terminal). */
export class ProgressBar {
  private lastPercent = -1;
  constructor(private readonly label: string) {}
  update(done: number, total: number): void {
    const percent = Math.floor((done / total) * 100);
    const step = process.stdout.isTTY ? 1 : 10;
    if (percent === this.lastPercent || (percent % step !== 0 && done < total)) return;
    this.lastPercent = percent;
    const width = 30;
    const filled = Math.round((done / total) * width);
    const bar = `${this.label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${percent}%`;
    if (process.stdout.isTTY) process.stdout.write(`\r${bar}${done >= total ? "\n" : ""}`);
    else console.log(bar);
  }
}

/** Paints every pixel of the canvas a random colour at `rate` pixels/s, and waits for the last frame. */
export async function fillRandom(wsUrl: string, rate: number): Promise<void> {
  const { ws, hello: h } = await hello(wsUrl);
  let lastSeen = 0;
  // The broadcast comes on the live socket [P19]: watch it to know when the last frame went out.
  const live = await openLiveSocket(liveUrlOf(wsUrl), undefined, (data) => {
    lastSeen = pixelsFrameSeq(data) ?? lastSeen;
  });
  const total = h.width * h.height;
  const perTick = Math.floor(rate / 50);
  const bar = new ProgressBar(`filling ${h.width}×${h.height} with random colours`);
  let nonce = 1;
  for (let i = 0; i < total; ) {
    for (let sent = 0; sent < perTick && i < total; ) {
      const pixels: Pixel[] = [];
      while (pixels.length < MAX_PLACE_PIXELS && i < total && sent < perTick) {
        pixels.push({
          x: i % h.width,
          y: Math.floor(i / h.width),
          colour: Math.floor(Math.random() * h.palette.length),
        });
        i++;
        sent++;
      }
      ws.send(encodePlace(nonce++, pixels));
    }
    bar.update(i, total);
    await sleep(20);
  }
  // Wait for the broadcasts to stop: the last placement has been stored and sent.
  for (let quiet = 0, previous = -1; quiet < 5; ) {
    await sleep(100);
    quiet = lastSeen === previous ? quiet + 1 : 0;
    previous = lastSeen;
  }
  ws.close();
  live.ws.close();
}
