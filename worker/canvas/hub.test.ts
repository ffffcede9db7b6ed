/**
 * Tests of the broadcast hub's pacing and batching (hub.ts): when to flush, how pending placements
 * become sequence-numbered batches, and how sequences are claimed. Times are passed in; no timers.
 */

import { describe, expect, it } from "vitest";
import type { Pixel } from "../protocol.ts";
import { MAX_FRAME_PIXELS } from "../protocol.ts";
import { Hub, LATE_TIMER_MS, type PendingPlacement } from "./hub.ts";

const T0 = 1_700_000_000_000;

/** `count` distinct pixels, tagged by `tag` so a pixel's placement can be told from its bytes. */
function pixels(count: number, tag = 0): Pixel[] {
  return Array.from({ length: count }, (_, i) => ({ x: i, y: tag, colour: tag % 32 }));
}

function placement(origin: string, nonce: number, count: number): PendingPlacement<string> {
  return { origin, nonce, pixels: pixels(count, nonce) };
}

describe("Hub pacing", () => {
  it("[P13] delayUntilFlush is 0 when the hub has never flushed (an idle hub sends at once)", () => {
    const hub = new Hub<string>(20, 0);
    expect(hub.delayUntilFlush(T0)).toBe(0);
    expect(hub.delayUntilFlush(0)).toBe(0);
    hub.add(placement("a", 1, 1));
    expect(hub.delayUntilFlush(T0)).toBe(0);
  });

  it("[P13] delayUntilFlush is intervalMs right after a drain, then counts down to 0", () => {
    const hub = new Hub<string>(20, 0);
    hub.add(placement("a", 1, 1));
    hub.drain(T0);
    expect(hub.delayUntilFlush(T0)).toBe(20);
    expect(hub.delayUntilFlush(T0 + 5)).toBe(15);
    expect(hub.delayUntilFlush(T0 + 19)).toBe(1);
    expect(hub.delayUntilFlush(T0 + 20)).toBe(0);
    expect(hub.delayUntilFlush(T0 + 10_000)).toBe(0);
  });

  it("each drain restarts the interval from its own time", () => {
    const hub = new Hub<string>(50, 0);
    hub.drain(T0);
    hub.drain(T0 + 70);
    expect(hub.delayUntilFlush(T0 + 70)).toBe(50);
    expect(hub.delayUntilFlush(T0 + 100)).toBe(20);
  });
});

describe("Hub batching", () => {
  it("drain with nothing pending gives no batches", () => {
    const hub = new Hub<string>(20, 7);
    expect(hub.drain(T0)).toEqual([]);
    expect(hub.seq).toBe(7);
  });

  it("[P13] a drain gives one batch at seq + 1 holding every pending pixel in arrival order", () => {
    const hub = new Hub<string>(20, 41);
    const a = placement("a", 1, 3);
    const b = placement("b", 2, 2);
    hub.add(a);
    hub.add(b);
    const batches = hub.drain(T0);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual({ seq: 42, pixels: [...a.pixels, ...b.pixels], placements: [a, b] });
  });

  it("keeps each placement's origin and nonce so its sender can be answered", () => {
    const hub = new Hub<{ socket: number }>(20, 0);
    hub.add({ origin: { socket: 9 }, nonce: 0xfeed, pixels: pixels(1) });
    const [batch] = hub.drain(T0);
    expect(batch?.placements).toEqual([{ origin: { socket: 9 }, nonce: 0xfeed, pixels: pixels(1) }]);
  });

  it("drain empties the hub", () => {
    const hub = new Hub<string>(20, 0);
    hub.add(placement("a", 1, 3));
    expect(hub.drain(T0)).toHaveLength(1);
    expect(hub.pendingPixelCount).toBe(0);
    expect(hub.drain(T0 + 100)).toEqual([]);
  });

  it("[P13] splits into batches of at most maxFramePixels with consecutive seqs from seq + 1", () => {
    const hub = new Hub<string>(20, 100, 10);
    const placements = [4, 4, 4, 1, 9, 2, 10, 1].map((n, i) => placement(`s${i}`, i + 1, n));
    for (const p of placements) hub.add(p);
    const batches = hub.drain(T0);
    expect(batches.map((b) => b.seq)).toEqual([101, 102, 103, 104, 105, 106]);
    expect(batches.map((b) => b.placements.map((p) => p.nonce))).toEqual([[1, 2], [3, 4], [5], [6], [7], [8]]);
    expect(batches.map((b) => b.pixels.length)).toEqual([8, 5, 9, 2, 10, 1]);
  });

  it("[P6] never splits a placement across batches, and never reorders pixels", () => {
    const hub = new Hub<string>(20, 0, 10);
    const placements = [6, 6, 3, 5, 10, 1].map((n, i) => placement(`s${i}`, i + 1, n));
    for (const p of placements) hub.add(p);
    const batches = hub.drain(T0);
    // 6 | 6+3 | 5 | 10 | 1 — each batch is full up to the next placement that would overflow it
    expect(batches.map((b) => b.placements.map((p) => p.nonce))).toEqual([[1], [2, 3], [4], [5], [6]]);
    for (const batch of batches) {
      expect(batch.pixels.length).toBeLessThanOrEqual(10);
      expect(batch.pixels).toEqual(batch.placements.flatMap((p) => p.pixels));
    }
    expect(batches.flatMap((b) => b.pixels)).toEqual(placements.flatMap((p) => p.pixels));
  });

  it("fills a batch to exactly maxFramePixels before starting another", () => {
    const hub = new Hub<string>(20, 0, 10);
    hub.add(placement("a", 1, 7));
    hub.add(placement("b", 2, 3));
    hub.add(placement("c", 3, 1));
    const batches = hub.drain(T0);
    expect(batches.map((b) => b.pixels.length)).toEqual([10, 1]);
  });

  it("[P6] a placement bigger than maxFramePixels travels alone rather than being split", () => {
    const hub = new Hub<string>(20, 0, 4);
    hub.add(placement("a", 1, 1));
    hub.add(placement("b", 2, 6));
    hub.add(placement("c", 3, 1));
    const batches = hub.drain(T0);
    expect(batches.map((b) => b.placements.map((p) => p.nonce))).toEqual([[1], [2], [3]]);
    expect(batches.map((b) => b.seq)).toEqual([1, 2, 3]);
  });

  it("defaults maxFramePixels to MAX_FRAME_PIXELS", () => {
    const hub = new Hub<string>(20, 0);
    expect(hub.maxFramePixels).toBe(MAX_FRAME_PIXELS);
    // 33 placements of 256 pixels: 32 fill one frame exactly, the 33rd starts the next
    for (let i = 0; i < 33; i++) hub.add(placement("a", i, 256));
    expect(hub.drain(T0).map((b) => b.pixels.length)).toEqual([MAX_FRAME_PIXELS, 256]);
  });

  it("pendingPixelCount is the sum of pending pixels, and 0 after a drain", () => {
    const hub = new Hub<string>(20, 0);
    expect(hub.pendingPixelCount).toBe(0);
    hub.add(placement("a", 1, 3));
    expect(hub.pendingPixelCount).toBe(3);
    hub.add(placement("b", 2, 256));
    expect(hub.pendingPixelCount).toBe(259);
    hub.drain(T0);
    expect(hub.pendingPixelCount).toBe(0);
    hub.add(placement("c", 3, 5));
    expect(hub.pendingPixelCount).toBe(5);
  });
});

describe("Hub sequences", () => {
  it("[P13] drain does not claim sequences; commit does, one at a time, in order", () => {
    const hub = new Hub<string>(20, 10, 2);
    hub.add(placement("a", 1, 2));
    hub.add(placement("b", 2, 2));
    const batches = hub.drain(T0);
    expect(batches.map((b) => b.seq)).toEqual([11, 12]);
    expect(hub.seq).toBe(10);
    hub.commit(11);
    expect(hub.seq).toBe(11);
    hub.commit(12);
    expect(hub.seq).toBe(12);
  });

  it("[P13] commit refuses a sequence that skips, repeats or goes back", () => {
    const hub = new Hub<string>(20, 10);
    expect(() => hub.commit(12)).toThrow(RangeError);
    expect(() => hub.commit(10)).toThrow(RangeError);
    expect(() => hub.commit(9)).toThrow(RangeError);
    expect(hub.seq).toBe(10);
    hub.commit(11);
    expect(() => hub.commit(11)).toThrow(RangeError);
    expect(hub.seq).toBe(11);
  });

  it("[P13] a batch that was never committed leaves no hole: the next drain reuses its sequence", () => {
    const hub = new Hub<string>(20, 5);
    hub.add(placement("a", 1, 1));
    expect(hub.drain(T0).map((b) => b.seq)).toEqual([6]);
    // storing seq 6 failed: nothing committed
    hub.add(placement("b", 2, 1));
    expect(hub.drain(T0 + 20).map((b) => b.seq)).toEqual([6]);
    hub.commit(6);
    hub.add(placement("c", 3, 1));
    expect(hub.drain(T0 + 40).map((b) => b.seq)).toEqual([7]);
  });

  it("the next drain continues after the last committed batch", () => {
    const hub = new Hub<string>(20, 0, 1);
    for (let round = 0; round < 5; round++) {
      hub.add(placement("a", 1, 1));
      hub.add(placement("b", 2, 1));
      const batches = hub.drain(T0 + round * 20);
      expect(batches.map((b) => b.seq)).toEqual([round * 2 + 1, round * 2 + 2]);
      for (const b of batches) hub.commit(b.seq);
    }
    expect(hub.seq).toBe(10);
  });
});

describe("pacing by sockets [P13]", () => {
  it("stretches the interval so that sockets × frames per second stays within the send budget", () => {
    const hub = new Hub<number>(20, 0, 8192, 10_000);
    expect(hub.intervalFor(0)).toBe(20);
    expect(hub.intervalFor(200)).toBe(20); // 200 × 50 frames/s = 10,000: at the budget
    expect(hub.intervalFor(1000)).toBe(100); // 10 frames/s each
    hub.add({ origin: 1, nonce: 1, pixels: [{ x: 0, y: 0, colour: 1 }] });
    hub.drain(1000);
    expect(hub.delayUntilFlush(1000, 1000)).toBe(100);
    expect(hub.delayUntilFlush(1060, 1000)).toBe(40);
    expect(hub.delayUntilFlush(1060, 10)).toBe(0);
  });

  it("an idle hub still sends at once however many sockets it has", () => {
    const hub = new Hub<number>(20, 0, 8192, 10_000);
    expect(hub.delayUntilFlush(5, 5000)).toBe(0);
  });
});

describe("pacing by load [P13]", () => {
  it("stretches the interval while flush timers fire late, up to maxIntervalMs", () => {
    const hub = new Hub<string>(10, 0, MAX_FRAME_PIXELS, Number.POSITIVE_INFINITY, 100);
    expect(hub.intervalFor(200)).toBe(10);
    hub.timerFired(LATE_TIMER_MS + 1);
    expect(hub.intervalFor(200)).toBe(15);
    for (let i = 0; i < 20; i++) hub.timerFired(50);
    expect(hub.intervalFor(200)).toBe(100);
  });

  it("relaxes back to intervalMs while timers are on time, never below it", () => {
    const hub = new Hub<string>(10, 0, MAX_FRAME_PIXELS, Number.POSITIVE_INFINITY, 100);
    for (let i = 0; i < 20; i++) hub.timerFired(50);
    const stretched = hub.loadIntervalMs;
    hub.timerFired(0);
    expect(hub.loadIntervalMs).toBeLessThan(stretched);
    for (let i = 0; i < 100; i++) hub.timerFired(LATE_TIMER_MS); // on the threshold counts as on time
    expect(hub.loadIntervalMs).toBe(10);
  });

  it("the send budget still sets the floor when it asks for more than the load does", () => {
    const hub = new Hub<string>(10, 0, MAX_FRAME_PIXELS, 10_000, 100);
    expect(hub.intervalFor(1000)).toBe(100);
    expect(hub.intervalFor(5000)).toBe(500); // the budget may exceed maxIntervalMs
    for (let i = 0; i < 20; i++) hub.timerFired(50);
    expect(hub.intervalFor(100)).toBe(100);
  });

  it("a maxIntervalMs below intervalMs cannot shrink the interval", () => {
    const hub = new Hub<string>(20, 0, MAX_FRAME_PIXELS, Number.POSITIVE_INFINITY, 5);
    hub.timerFired(100);
    expect(hub.intervalFor(1)).toBe(20);
    expect(hub.maxIntervalMs).toBe(20);
  });

  it("delayUntilFlush follows the stretched interval", () => {
    const hub = new Hub<string>(10, 0, MAX_FRAME_PIXELS, Number.POSITIVE_INFINITY, 100);
    hub.drain(1000);
    expect(hub.delayUntilFlush(1000)).toBe(10);
    hub.timerFired(50);
    expect(hub.delayUntilFlush(1000)).toBe(15);
  });
});
