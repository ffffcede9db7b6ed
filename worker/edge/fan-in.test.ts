import { describe, expect, it } from "vitest";
import { MAX_PLACE_PIXELS, type Pixel } from "../protocol.ts";
import { FanIn } from "./fan-in.ts";

const px = (n = 1): Pixel[] => Array.from({ length: n }, (_, i) => ({ x: i, y: 0, colour: 1 }));

describe("[P18] FanIn: an isolate's placements in few messages", () => {
  it("a placement on a quiet isolate leaves at once, alone", () => {
    const f = new FanIn(5);
    expect(f.add(1, 10, px(), 1000)).toEqual({ kind: "send" });
    expect(f.drain(1000)).toEqual([{ session: 1, nonce: 10, pixels: px() }]);
    expect(f.drain(1000)).toEqual([]);
  });

  it("a window lets `burst` placements through at once, then the first held one's session carries the rest", () => {
    const f = new FanIn(5, 2);
    expect(f.add(1, 1, px(), 1000)).toEqual({ kind: "send" });
    f.drain(1000);
    expect(f.add(1, 2, px(), 1001)).toEqual({ kind: "send" });
    f.drain(1001);
    expect(f.add(2, 3, px(), 1001)).toEqual({ kind: "carry", ms: 4 });
    expect(f.carrier).toBe(2);
    expect(f.add(3, 4, px(), 1002)).toEqual({ kind: "queued" });
    expect(f.add(2, 5, px(), 1003)).toEqual({ kind: "queued" });
    expect(f.drain(1005).map((p) => [p.session, p.nonce])).toEqual([
      [2, 3],
      [3, 4],
      [2, 5],
    ]);
    expect(f.carrier).toBeUndefined();
    // The carried batch was the first message of the next window: one more goes at once, then hold.
    expect(f.add(4, 6, px(), 1006)).toEqual({ kind: "send" });
    f.drain(1006);
    expect(f.add(4, 7, px(), 1007)).toEqual({ kind: "carry", ms: 3 });
  });

  it("a quiet isolate never holds a placement: at most `burst` per window arrive", () => {
    const f = new FanIn(5, 4);
    for (let t = 0; t < 1000; t += 2) {
      expect(f.add(t, t, px(), t)).toEqual({ kind: "send" });
      expect(f.drain(t)).toHaveLength(1);
    }
  });

  it("a window of 0 sends every placement on its own", () => {
    const f = new FanIn(0);
    for (let i = 0; i < 5; i++) {
      expect(f.add(i, i, px(), 1000)).toEqual({ kind: "send" });
      expect(f.drain(1000)).toHaveLength(1);
    }
  });

  it("a queue that reaches one broadcast frame leaves at once, in frames that split no placement", () => {
    const f = new FanIn(5, 1, 600);
    f.add(1, 0, px(), 0);
    f.drain(0);
    expect(f.add(1, 1, px(MAX_PLACE_PIXELS), 1)).toEqual({ kind: "carry", ms: 4 });
    expect(f.add(2, 2, px(MAX_PLACE_PIXELS), 1)).toEqual({ kind: "queued" });
    expect(f.add(3, 3, px(MAX_PLACE_PIXELS), 2)).toEqual({ kind: "send" });
    const first = f.drain(2);
    expect(first.map((p) => p.nonce)).toEqual([1, 2]);
    expect(f.drain(2).map((p) => p.nonce)).toEqual([3]);
    expect(f.drain(2)).toEqual([]);
  });

  it("a carrier that leaves hands its batch on to be sent now; others leaving change nothing", () => {
    const f = new FanIn(5, 1);
    f.add(1, 1, px(), 0);
    f.drain(0);
    f.add(2, 2, px(), 1);
    f.add(3, 3, px(), 2);
    expect(f.carrierLeft(3)).toBe(false);
    expect(f.carrierLeft(2)).toBe(true);
    expect(f.carrier).toBeUndefined();
    expect(f.drain(2).map((p) => p.nonce)).toEqual([2, 3]);
    expect(f.carrierLeft(2)).toBe(false);
  });

  it("a batch that could not be sent goes back to the front and leaves with the next", () => {
    const f = new FanIn(5);
    f.add(1, 1, px(), 0);
    const lost = f.drain(0);
    f.requeue(lost);
    expect(f.queuedPlacements).toBe(1);
    expect(f.add(2, 2, px(), 10)).toEqual({ kind: "send" });
    expect(f.drain(10).map((p) => p.nonce)).toEqual([1, 2]);
  });

  it("never loses or duplicates a placement, whatever the order of adds and drains", () => {
    // A seeded walk: every added nonce comes out of exactly one drain.
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const f = new FanIn(5, 2, 2000);
    const out: number[] = [];
    let now = 0;
    for (let nonce = 0; nonce < 5000; nonce++) {
      now += Math.floor(rand() * 3);
      const action = f.add(Math.floor(rand() * 50), nonce, px(1 + Math.floor(rand() * 255)), now);
      if (action.kind === "send" || rand() < 0.1) {
        for (let b = f.drain(now); b.length > 0; b = f.drain(now)) {
          expect(b.reduce((a, p) => a + p.pixels.length, 0)).toBeLessThanOrEqual(2000);
          for (const p of b) out.push(p.nonce);
        }
      }
    }
    for (let b = f.drain(now); b.length > 0; b = f.drain(now)) for (const p of b) out.push(p.nonce);
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });
});
