/**
 * Tests of the page's canvas model (client-state.ts): frames in order, duplicates, gaps and catch-up,
 * joining from a snapshot plus buffered frames, with the broadcast on the live socket and catch-up
 * replies on the edge socket arriving interleaved (checked against a reference by random simulation),
 * optimistic placements with rollback, and painting only what changed. Runs in Node.
 */

import { describe, expect, it } from "vitest";
import { prng } from "../test/support/random.ts";
import type { Pixel, Snapshot } from "../worker/protocol.ts";
import { encodeSnapshot, gzip } from "../worker/protocol.ts";
import {
  CATCH_UP_RETRY_MS,
  CanvasState,
  DIRTY_SHARE_LIMIT,
  decodeSnapshotBody,
  PENDING_TTL_MS,
} from "./client-state.ts";

const W = 8;
const H = 6;
const PALETTE = 5;

function int(random: () => number, below: number): number {
  return Math.floor(random() * below);
}

interface Frame {
  seq: number;
  pixels: Pixel[];
}

/** Frames 1…count of random pixels; on an 8×6 canvas they overwrite each other, so order matters. */
function randomFrames(random: () => number, count: number): Frame[] {
  return Array.from({ length: count }, (_, i) => ({
    seq: i + 1,
    pixels: Array.from({ length: 1 + int(random, 4) }, () => ({
      x: int(random, W),
      y: int(random, H),
      colour: int(random, PALETTE),
    })),
  }));
}

/** The reference: frames 1…upTo applied in order to an empty (all colour 0) canvas. */
function reference(frames: readonly Frame[], upTo: number): Uint8Array {
  const pixels = new Uint8Array(W * H);
  for (const frame of frames.slice(0, upTo)) {
    for (const p of frame.pixels) pixels[p.y * W + p.x] = p.colour;
  }
  return pixels;
}

function snapshotAt(frames: readonly Frame[], seq: number): Snapshot {
  return { width: W, height: H, seq, pixels: reference(frames, seq) };
}

function shown(state: CanvasState): number[] {
  const out: number[] = [];
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out.push(state.colourAt(x, y) ?? -1);
  return out;
}

function frame(seq: number, ...pixels: [number, number, number][]): Frame {
  return { seq, pixels: pixels.map(([x, y, colour]) => ({ x, y, colour })) };
}

/** A state that joined an empty canvas at sequence `seq`. */
function joined(seq = 0): CanvasState {
  const state = new CanvasState(W, H, PALETTE);
  expect(state.applySnapshot({ width: W, height: H, seq, pixels: new Uint8Array(W * H) })).toBe("applied");
  return state;
}

describe("frames", () => {
  it("[P13] applies frames in order and tracks the sequence", () => {
    const state = joined();
    expect(state.applyFrame(frame(1, [0, 0, 1], [1, 0, 2]))).toBe("applied");
    expect(state.applyFrame(frame(2, [0, 0, 3]))).toBe("applied");
    expect(state.seq).toBe(2);
    expect(state.colourAt(0, 0)).toBe(3);
    expect(state.colourAt(1, 0)).toBe(2);
    expect(state.behind).toBe(false);
  });

  it("[P14] ignores duplicates, including a replay of an old frame after newer ones", () => {
    const state = joined();
    state.applyFrame(frame(1, [0, 0, 1]));
    state.applyFrame(frame(2, [0, 0, 2]));
    expect(state.applyFrame(frame(1, [0, 0, 1]))).toBe("duplicate");
    expect(state.applyFrame(frame(2, [0, 0, 4]))).toBe("duplicate");
    expect(state.colourAt(0, 0)).toBe(2);
    expect(state.seq).toBe(2);
  });

  it("[P14] holds a frame after a gap, asks to catch up once, and applies it when the gap is filled", () => {
    const state = joined();
    state.applyFrame(frame(1, [0, 0, 1]));
    expect(state.applyFrame(frame(4, [0, 0, 4]))).toBe("gap");
    expect(state.applyFrame(frame(5, [1, 1, 4]))).toBe("gap");
    expect(state.colourAt(0, 0)).toBe(1);
    expect(state.seq).toBe(1);
    expect(state.behind).toBe(true);

    expect(state.takeCatchUp(1_000)).toBe(1);
    // The request is in flight: later frames and ticks do not repeat it.
    expect(state.applyFrame(frame(6, [2, 2, 1]))).toBe("gap");
    expect(state.takeCatchUp(1_001)).toBeUndefined();

    expect(state.applyFrame(frame(3, [0, 0, 3]))).toBe("gap");
    expect(state.applyFrame(frame(2, [0, 0, 2]))).toBe("applied");
    expect(state.seq).toBe(6);
    expect(state.colourAt(0, 0)).toBe(4);
    expect(state.colourAt(1, 1)).toBe(4);
    expect(state.colourAt(2, 2)).toBe(1);
    expect(state.bufferedCount).toBe(0);
    expect(state.behind).toBe(false);
    expect(state.takeCatchUp(1_002)).toBeUndefined();
  });

  it("[P8] asks again when a catch-up goes unanswered", () => {
    const state = joined();
    state.applyFrame(frame(3, [0, 0, 3]));
    expect(state.takeCatchUp(0)).toBe(0);
    expect(state.takeCatchUp(CATCH_UP_RETRY_MS - 1)).toBeUndefined();
    expect(state.takeCatchUp(CATCH_UP_RETRY_MS)).toBe(0);
  });

  it("asks again at once after a reconnect, since the request died with the socket", () => {
    const state = joined();
    state.applyFrame(frame(3, [0, 0, 3]));
    expect(state.takeCatchUp(0)).toBe(0);
    state.connectionLost();
    expect(state.takeCatchUp(1)).toBe(0);
  });

  it("sees a gap from the server's hello even when no frame is buffered", () => {
    const state = joined(4);
    state.serverAt(7);
    expect(state.behind).toBe(true);
    expect(state.takeCatchUp(0)).toBe(4);
  });

  it("[P8][P19] treats the live socket's replay from the page's sequence as the catch-up request", () => {
    const state = joined(4);
    state.serverAt(7);
    state.resumed(0);
    expect(state.takeCatchUp(1)).toBeUndefined();
    for (const seq of [5, 6, 7]) expect(state.applyFrame(frame(seq, [0, 0, 1]))).toBe("applied");
    expect(state.behind).toBe(false);
  });

  it("ignores pixels outside the canvas or the palette instead of corrupting other pixels", () => {
    const state = joined();
    expect(state.applyFrame(frame(1, [W, 0, 1], [0, H, 1], [0, 0, PALETTE], [-1, 0, 1], [1, 0, 2]))).toBe("applied");
    expect(shown(state).filter((c) => c !== 0)).toEqual([2]);
  });
});

describe("joining from a snapshot", () => {
  it("[P14] buffers frames before the snapshot and applies only those newer than it", () => {
    const frames = randomFrames(prng(1), 10);
    const state = new CanvasState(W, H, PALETTE);
    for (const f of frames.slice(3)) expect(state.applyFrame(f)).toBe("buffered");
    expect(state.seq).toBe(0);
    expect(state.applySnapshot(snapshotAt(frames, 6))).toBe("applied");
    expect(state.seq).toBe(10);
    expect(shown(state)).toEqual([...reference(frames, 10)]);
  });

  it("[P14] catches up from a snapshot older than the first buffered frame", () => {
    const frames = randomFrames(prng(2), 10);
    const state = new CanvasState(W, H, PALETTE);
    state.serverAt(5);
    for (const f of frames.slice(5)) state.applyFrame(f);
    state.applySnapshot(snapshotAt(frames, 2));
    expect(state.seq).toBe(2);
    expect(state.takeCatchUp(0)).toBe(2);
    for (const f of frames.slice(2, 5)) state.applyFrame(f);
    expect(state.seq).toBe(10);
    expect(shown(state)).toEqual([...reference(frames, 10)]);
  });

  it("refuses a snapshot of another shape, and an older one than it holds", () => {
    const state = joined(5);
    expect(state.applySnapshot({ width: W + 1, height: H, seq: 9, pixels: new Uint8Array((W + 1) * H) })).toBe(
      "mismatch",
    );
    const older = { width: W, height: H, seq: 3, pixels: new Uint8Array(W * H).fill(1) };
    expect(state.applySnapshot(older)).toBe("stale");
    expect(state.colourAt(0, 0)).toBe(0);
  });

  it("[P8] after a resync, holds frames until a fresh snapshot and keeps showing the old pixels", () => {
    const frames = randomFrames(prng(3), 30);
    const state = joined();
    for (const f of frames.slice(0, 5)) state.applyFrame(f);
    state.resync(25);
    expect(state.synced).toBe(false);
    expect(shown(state)).toEqual([...reference(frames, 5)]);
    expect(state.applyFrame(frames[26] ?? frame(27))).toBe("buffered");
    expect(state.takeCatchUp(0)).toBeUndefined();
    expect(state.applySnapshot(snapshotAt(frames, 24))).toBe("applied");
    expect(state.takeCatchUp(0)).toBe(24);
    state.applyFrame(frames[24] ?? frame(25));
    state.applyFrame(frames[25] ?? frame(26));
    expect(state.seq).toBe(27);
    expect(shown(state)).toEqual([...reference(frames, 27)]);
  });

  it("a resync below its own sequence (server history reset) starts over", () => {
    const state = joined(10);
    state.resync(3);
    const fresh = { width: W, height: H, seq: 3, pixels: new Uint8Array(W * H).fill(2) };
    expect(state.applySnapshot(fresh)).toBe("applied");
    expect(state.seq).toBe(3);
    expect(state.colourAt(5, 5)).toBe(2);
  });

  it("[P14][P19] equals applying every frame to an empty canvas, whatever the snapshot and arrival order on two sockets (random)", () => {
    for (let run = 0; run < 400; run++) {
      const random = prng(1000 + run);
      const total = 1 + int(random, 40);
      const frames = randomFrames(random, total);
      // The live socket joins from `join`; every frame after it reaches that socket, in order.
      const join = int(random, total + 1);
      // The snapshot may be stale (older than the join: edge cache) or newer (fetched later).
      const snapshotSeq = Math.max(0, Math.min(total, join - 3 + int(random, total - join + 4)));
      const snapshotArrivesAfter = int(random, total - join + 1); // live frames delivered before it

      const state = new CanvasState(W, H, PALETTE);
      state.serverAt(join);
      let snapshotDone = false;
      let now = 0;
      let live = join; // the newest frame the server has broadcast
      // What is on each socket's wire, in order. The two sockets are not ordered with each other:
      // catch-up replies on the edge socket overtake or trail the broadcast on the live one.
      const liveWire: Frame[] = [];
      const edgeWire: Frame[] = [];
      const deliverOne = (): void => {
        const wire = edgeWire.length > 0 && (liveWire.length === 0 || random() < 0.5) ? edgeWire : liveWire;
        const next = wire.shift();
        if (next) state.applyFrame(next);
      };
      const serveCatchUp = (): void => {
        const from = state.takeCatchUp(now);
        // The server answers on the edge socket, with every frame it holds after `from`.
        if (from !== undefined) edgeWire.push(...frames.slice(from, live));
      };
      const onWire = (): number => liveWire.length + edgeWire.length;

      while (live < total || onWire() > 0 || !snapshotDone || state.seq < total) {
        now += 1;
        if (!snapshotDone && live - join >= snapshotArrivesAfter) {
          expect(state.applySnapshot(snapshotAt(frames, snapshotSeq))).toBe("applied");
          snapshotDone = true;
          serveCatchUp();
          continue;
        }
        const choice = random();
        if (choice < 0.5 && live < total) {
          const f = frames[live];
          live++;
          // Now and then a frame is lost on the way (a frame the page could not decode): a gap.
          // (Never the last one: nothing after it would reveal the gap, as on a real quiet canvas.)
          if (f && (f.seq === total || random() > 0.1)) liveWire.push(f);
        } else if (choice < 0.8 && onWire() > 0) {
          deliverOne();
          serveCatchUp();
        } else if (onWire() === 0 && live === total && snapshotDone) {
          // Quiet: the periodic tick retries an unanswered catch-up.
          now += CATCH_UP_RETRY_MS;
          serveCatchUp();
        }
        if (now > 1_000_000) throw new Error(`run ${run}: never converged`);
      }

      expect(state.seq, `run ${run}`).toBe(total);
      expect(shown(state), `run ${run}: join ${join}, snapshot ${snapshotSeq}`).toEqual([...reference(frames, total)]);
      expect(state.bufferedCount, `run ${run}`).toBe(0);
    }
  });
});

describe("optimistic placements", () => {
  it("[P9] shows a placement at once and rolls it back to the server's colour on reject", () => {
    const state = joined();
    state.applyFrame(frame(1, [2, 3, 4]));
    state.addPending(7, [{ x: 2, y: 3, colour: 1 }], 0);
    expect(state.colourAt(2, 3)).toBe(1);
    expect(state.serverColourAt(2, 3)).toBe(4);
    expect(state.reject(7)).toBe(true);
    expect(state.colourAt(2, 3)).toBe(4);
    expect(state.pendingCount).toBe(0);
    expect(state.reject(7)).toBe(false);
  });

  it("[P13] a broadcast touching the pixel clears the pending entry; a later reject changes nothing", () => {
    const state = joined();
    state.addPending(1, [{ x: 0, y: 0, colour: 3 }], 0);
    state.applyFrame(frame(1, [0, 0, 2]));
    expect(state.colourAt(0, 0)).toBe(2);
    expect(state.pendingCount).toBe(0);
    expect(state.reject(1)).toBe(false);
    expect(state.colourAt(0, 0)).toBe(2);
  });

  it("a broadcast elsewhere leaves the pending pixel shown", () => {
    const state = joined();
    state.addPending(1, [{ x: 0, y: 0, colour: 3 }], 0);
    state.applyFrame(frame(1, [1, 0, 2]));
    expect(state.colourAt(0, 0)).toBe(3);
    expect(state.pendingCount).toBe(1);
  });

  it("rejecting an older placement keeps a newer one on the same pixel, and the reverse", () => {
    const state = joined();
    state.addPending(1, [{ x: 0, y: 0, colour: 1 }], 0);
    state.addPending(2, [{ x: 0, y: 0, colour: 2 }], 0);
    expect(state.colourAt(0, 0)).toBe(2);
    state.reject(1);
    expect(state.colourAt(0, 0)).toBe(2);

    state.addPending(3, [{ x: 1, y: 0, colour: 1 }], 0);
    state.addPending(4, [{ x: 1, y: 0, colour: 2 }], 0);
    state.reject(4);
    expect(state.colourAt(1, 0)).toBe(1);
    state.reject(3);
    expect(state.colourAt(1, 0)).toBe(0);
  });

  it("a frame touching one pixel of a multi-pixel placement leaves its other pixels pending", () => {
    const state = joined();
    state.addPending(
      9,
      [
        { x: 0, y: 0, colour: 1 },
        { x: 1, y: 0, colour: 1 },
      ],
      0,
    );
    state.applyFrame(frame(1, [0, 0, 3]));
    expect(state.colourAt(0, 0)).toBe(3);
    expect(state.colourAt(1, 0)).toBe(1);
    state.reject(9);
    expect(state.colourAt(0, 0)).toBe(3);
    expect(state.colourAt(1, 0)).toBe(0);
  });

  it("drops placements the server never answered", () => {
    const state = joined();
    state.addPending(1, [{ x: 0, y: 0, colour: 1 }], 0);
    expect(state.expirePending(PENDING_TTL_MS - 1)).toBe(0);
    expect(state.colourAt(0, 0)).toBe(1);
    expect(state.expirePending(PENDING_TTL_MS)).toBe(1);
    expect(state.colourAt(0, 0)).toBe(0);
  });
});

describe("withdrawing and queued pixels", () => {
  it("withdraw takes a placement back and returns its pixels no broadcast has touched, with when it was placed", () => {
    const state = joined();
    state.addPending(
      3,
      [
        { x: 0, y: 0, colour: 1 },
        { x: 1, y: 0, colour: 2 },
      ],
      100,
      40,
    );
    expect(state.pendingPixelCount).toBe(2);
    expect(state.pendingNonces()).toEqual([3]);
    expect(state.placedAt(3)).toBe(40);
    state.applyFrame(frame(1, [0, 0, 4]));
    expect(state.pendingPixelCount).toBe(1);
    expect(state.withdraw(3)).toEqual({ pixels: [{ x: 1, y: 0, colour: 2 }], placedAt: 40 });
    expect(state.colourAt(1, 0)).toBe(0);
    expect(state.colourAt(0, 0)).toBe(4);
    expect(state.withdraw(3)).toBeUndefined();
    expect(state.pendingNonces()).toEqual([]);
  });

  it("shows queued pixels above pending ones and the server's, and broadcasts do not clear them", () => {
    const state = joined();
    state.addPending(1, [{ x: 2, y: 2, colour: 1 }], 0);
    state.showQueued([
      { x: 2, y: 2, colour: 3 },
      { x: 4, y: 4, colour: 2 },
    ]);
    expect(state.colourAt(2, 2)).toBe(3);
    expect(state.isUnconfirmed(4, 4)).toBe(true);
    state.applyFrame(frame(1, [4, 4, 1], [2, 2, 4]));
    expect(state.colourAt(4, 4)).toBe(2);
    expect(state.colourAt(2, 2)).toBe(3);
    // The broadcast settled the pending placement underneath; once the queue is sent, the server's shows.
    expect(state.pendingCount).toBe(0);
    state.showQueued([]);
    expect(state.colourAt(2, 2)).toBe(4);
    expect(state.colourAt(4, 4)).toBe(1);
    expect(state.isUnconfirmed(4, 4)).toBe(false);
  });

  it("paints queued pixels, and repaints the pixels a new queue leaves", () => {
    const lut = Uint32Array.from({ length: PALETTE }, (_, i) => 100 + i);
    const state = joined();
    const target = new Uint32Array(W * H);
    state.renderInto(target, lut);
    state.showQueued([{ x: 1, y: 1, colour: 2 }]);
    expect(state.renderInto(target, lut)).toEqual({ x: 1, y: 1, width: 1, height: 1 });
    expect(target[1 * W + 1]).toBe(102);
    state.showQueued([{ x: 3, y: 2, colour: 4 }]);
    expect(state.renderInto(target, lut)).toEqual({ x: 1, y: 1, width: 3, height: 2 });
    expect(target[1 * W + 1]).toBe(100);
    expect(target[2 * W + 3]).toBe(104);
    // The same queue again changes nothing.
    state.showQueued([{ x: 3, y: 2, colour: 4 }]);
    expect(state.renderInto(target, lut)).toBeUndefined();
  });
});

describe("counting", () => {
  it("counts the pixels applied from frames, buffered and caught up ones included, but not snapshots", () => {
    const state = new CanvasState(W, H, PALETTE);
    state.applyFrame(frame(2, [0, 0, 1], [1, 1, 1]));
    state.applySnapshot({ width: W, height: H, seq: 0, pixels: new Uint8Array(W * H).fill(3) });
    expect(state.appliedPixels).toBe(0);
    state.applyFrame(frame(1, [2, 2, 2]));
    expect(state.appliedPixels).toBe(3);
    // Pixels outside the canvas or palette are not applied, so not counted.
    state.applyFrame(frame(3, [W, 0, 1], [0, 0, PALETTE]));
    expect(state.appliedPixels).toBe(3);
  });
});

describe("painting", () => {
  const lut = Uint32Array.from({ length: PALETTE }, (_, i) => 100 + i);

  it("paints everything first, then only the rectangle that changed", () => {
    const state = joined();
    const target = new Uint32Array(W * H);
    expect(state.renderInto(target, lut)).toEqual({ x: 0, y: 0, width: W, height: H });
    expect(target.every((c) => c === 100)).toBe(true);
    expect(state.renderInto(target, lut)).toBeUndefined();

    state.applyFrame(frame(1, [1, 2, 3], [4, 1, 2]));
    state.addPending(1, [{ x: 2, y: 4, colour: 1 }], 0);
    expect(state.renderInto(target, lut)).toEqual({ x: 1, y: 1, width: 4, height: 4 });
    expect(target[2 * W + 1]).toBe(103);
    expect(target[1 * W + 4]).toBe(102);
    expect(target[4 * W + 2]).toBe(101);

    state.reject(1);
    expect(state.renderInto(target, lut)).toEqual({ x: 2, y: 4, width: 1, height: 1 });
    expect(target[4 * W + 2]).toBe(100);
  });

  it("repaints everything rather than tracking more changed pixels than a share of the canvas", () => {
    const width = 64;
    const height = 64;
    const state = new CanvasState(width, height, PALETTE);
    state.applySnapshot({ width, height, seq: 0, pixels: new Uint8Array(width * height) });
    const target = new Uint32Array(width * height);
    state.renderInto(target, lut);
    const many = Math.floor(width * height * DIRTY_SHARE_LIMIT) + 1;
    const pixels = Array.from({ length: many }, (_, i) => ({ x: i % width, y: Math.floor(i / width), colour: 2 }));
    state.applyFrame({ seq: 1, pixels });
    expect(state.renderInto(target, lut)).toEqual({ x: 0, y: 0, width, height });
    expect(target[many - 1]).toBe(102);
    expect(target[many]).toBe(100);
  });
});

describe("snapshot body", () => {
  it("[P10] decodes the gzip body served by GET /api/canvas", async () => {
    const pixels = Uint8Array.from({ length: W * H }, (_, i) => i % PALETTE);
    const body = await gzip(encodeSnapshot({ width: W, height: H, seq: 42, pixels }));
    const decoded = await decodeSnapshotBody(body, PALETTE);
    if (!decoded.ok) throw new Error(decoded.error.message);
    expect(decoded.value.seq).toBe(42);
    expect([...decoded.value.pixels]).toEqual([...pixels]);
  });

  it("[P10] rejects a snapshot with colours outside the palette", async () => {
    const pixels = new Uint8Array(W * H).fill(PALETTE);
    const decoded = await decodeSnapshotBody(await gzip(encodeSnapshot({ width: W, height: H, seq: 1, pixels })), 5);
    expect(decoded.ok).toBe(false);
  });
});
