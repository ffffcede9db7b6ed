/**
 * Tests of the ring of recent broadcast frames (frame-ring.ts): what since() answers for clients that
 * are up to date, a little behind, or too far behind; eviction by count and by bytes; and a long run
 * checked against a simple model, so the lazy compaction of the backing array cannot lose a frame.
 */

import { describe, expect, it } from "vitest";
import { prng } from "../../test/support/random.ts";
import { FrameRing, type StoredFrame } from "./frame-ring.ts";

/** A frame whose bytes name its seq, so a wrong frame in the right place is caught. */
function frame(seq: number, length = 10): StoredFrame {
  const bytes = new Uint8Array(length);
  new DataView(bytes.buffer).setUint32(0, seq);
  return { seq, bytes };
}

function seqs(frames: readonly StoredFrame[] | undefined): number[] | undefined {
  return frames?.map((f) => f.seq);
}

function filled(from: number, to: number, maxFrames = 100, maxBytes = 1_000_000): FrameRing {
  const ring = new FrameRing(maxFrames, maxBytes);
  for (let seq = from; seq <= to; seq++) ring.push(frame(seq));
  return ring;
}

describe("FrameRing basics", () => {
  it("starts empty", () => {
    const ring = new FrameRing(10, 1000);
    expect(ring.size).toBe(0);
    expect(ring.byteSize).toBe(0);
    expect(ring.oldestSeq).toBeUndefined();
  });

  it("counts frames and bytes as they are pushed", () => {
    const ring = new FrameRing(10, 1000);
    ring.push(frame(1, 7));
    ring.push(frame(2, 13));
    expect(ring.size).toBe(2);
    expect(ring.byteSize).toBe(20);
    expect(ring.oldestSeq).toBe(1);
  });

  it("the first frame may have any seq (the ring starts wherever storage left off)", () => {
    const ring = new FrameRing(10, 1000);
    ring.push(frame(5000));
    ring.push(frame(5001));
    expect(ring.oldestSeq).toBe(5000);
    expect(seqs(ring.since(4999, 5001))).toEqual([5000, 5001]);
  });

  it("push rejects a seq that does not follow the newest by exactly one", () => {
    const ring = filled(1, 3);
    expect(() => ring.push(frame(5))).toThrow(RangeError);
    expect(() => ring.push(frame(3))).toThrow(RangeError);
    expect(() => ring.push(frame(2))).toThrow(RangeError);
    expect(() => ring.push(frame(1))).toThrow(RangeError);
    // a refused push changes nothing
    expect(ring.size).toBe(3);
    expect(ring.byteSize).toBe(30);
    ring.push(frame(4));
    expect(seqs(ring.since(0, 4))).toEqual([1, 2, 3, 4]);
  });
});

describe("FrameRing.since", () => {
  it("[P8] is empty when the client is up to date, or claims to be ahead", () => {
    const ring = filled(1, 5);
    expect(ring.since(5, 5)).toEqual([]);
    expect(ring.since(9, 5)).toEqual([]);
    // even with nothing held: a client at the current seq needs nothing
    expect(new FrameRing(10, 1000).since(7, 7)).toEqual([]);
  });

  it("[P8] gives exactly the frames after seq, oldest first, as the very bytes pushed", () => {
    const ring = new FrameRing(100, 1_000_000);
    const pushed = [1, 2, 3, 4, 5].map((seq) => frame(seq, 4 + seq));
    for (const f of pushed) ring.push(f);
    expect(seqs(ring.since(2, 5))).toEqual([3, 4, 5]);
    expect(seqs(ring.since(4, 5))).toEqual([5]);
    expect(seqs(ring.since(0, 5))).toEqual([1, 2, 3, 4, 5]);
    const got = ring.since(3, 5);
    expect(got?.[0]?.bytes).toBe(pushed[3]?.bytes);
    expect(got?.[1]?.bytes).toBe(pushed[4]?.bytes);
  });

  it("[P8] is undefined when frames the client needs are no longer held (the client must resync)", () => {
    const ring = filled(11, 20);
    expect(seqs(ring.since(10, 20))).toHaveLength(10); // needs 11…20: all held
    expect(ring.since(9, 20)).toBeUndefined(); // needs 10, gone
    expect(ring.since(0, 20)).toBeUndefined();
  });

  it("[P8] is undefined when nothing is held but the client is behind (after a restart)", () => {
    expect(new FrameRing(10, 1000).since(3, 8)).toBeUndefined();
  });

  it("does not hand out the ring's own array: changing the answer changes nothing", () => {
    const ring = filled(1, 5);
    const first = ring.since(0, 5);
    first?.splice(0, 5);
    expect(seqs(ring.since(0, 5))).toEqual([1, 2, 3, 4, 5]);
  });
});

describe("FrameRing eviction", () => {
  it("by count: keeps the newest maxFrames", () => {
    const ring = filled(1, 25, 10);
    expect(ring.size).toBe(10);
    expect(ring.oldestSeq).toBe(16);
    expect(ring.byteSize).toBe(100);
    expect(seqs(ring.since(15, 25))).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    expect(ring.since(14, 25)).toBeUndefined();
  });

  it("by bytes: drops the oldest until the total fits maxBytes", () => {
    const ring = new FrameRing(100, 100);
    ring.push(frame(1, 40));
    ring.push(frame(2, 40));
    expect(ring.size).toBe(2);
    ring.push(frame(3, 30)); // 110 > 100: frame 1 goes
    expect(ring.size).toBe(2);
    expect(ring.oldestSeq).toBe(2);
    expect(ring.byteSize).toBe(70);
    ring.push(frame(4, 30)); // exactly 100 is allowed
    expect(ring.byteSize).toBe(100);
    expect(ring.oldestSeq).toBe(2);
    ring.push(frame(5, 90)); // 190: 2, 3 and 4 must all go
    expect(ring.oldestSeq).toBe(5);
    expect(ring.size).toBe(1);
    expect(ring.byteSize).toBe(90);
    expect(ring.since(3, 5)).toBeUndefined();
    expect(seqs(ring.since(4, 5))).toEqual([5]);
  });

  it("by bytes: keeps the newest frame even when it alone is over maxBytes", () => {
    const ring = new FrameRing(100, 50);
    ring.push(frame(1, 10));
    ring.push(frame(2, 80));
    expect(ring.size).toBe(1);
    expect(ring.oldestSeq).toBe(2);
    expect(ring.byteSize).toBe(80);
    expect(seqs(ring.since(1, 2))).toEqual([2]);
    ring.push(frame(3, 10));
    expect(ring.oldestSeq).toBe(3);
    expect(ring.byteSize).toBe(10);
  });

  it("still checks the order of pushes after evicting everything but the newest", () => {
    const ring = new FrameRing(1, 1000);
    ring.push(frame(1));
    ring.push(frame(2));
    expect(() => ring.push(frame(4))).toThrow(RangeError);
    ring.push(frame(3));
    expect(seqs(ring.since(2, 3))).toEqual([3]);
  });
});

describe("FrameRing over long runs", () => {
  it("[P8] 10,000 pushes by count: size stays bounded and since() stays right through compaction", () => {
    const ring = new FrameRing(100, Number.POSITIVE_INFINITY);
    for (let seq = 1; seq <= 10_000; seq++) {
      ring.push(frame(seq));
      // a plain check, not expect(), on every push: 10,000 expect() calls would dominate the run time
      if (ring.size !== Math.min(seq, 100)) expect.fail(`after seq ${seq} the ring holds ${ring.size} frames`);
      if (seq % 250 === 0 || (seq > 1100 && seq < 1140)) {
        const oldest = Math.max(1, seq - 99);
        expect(ring.oldestSeq).toBe(oldest);
        expect(ring.since(oldest - 2, seq)).toBeUndefined();
        expect(seqs(ring.since(oldest - 1, seq))?.length).toBe(seq - oldest + 1);
        expect(seqs(ring.since(seq - 3, seq))).toEqual([seq - 2, seq - 1, seq]);
        const all = ring.since(oldest - 1, seq) ?? [];
        expect(all.every((f, i) => f.seq === oldest + i && new DataView(f.bytes.buffer).getUint32(0) === f.seq)).toBe(
          true,
        );
      }
    }
    expect(ring.byteSize).toBe(100 * 10);
  });

  it("[P8] 10,000 pushes of random sizes match a model of the newest frames that fit", () => {
    const seed = 0xbeef;
    const random = prng(seed);
    const maxFrames = 64;
    const maxBytes = 2000;
    const ring = new FrameRing(maxFrames, maxBytes);
    const lengths: number[] = [];
    for (let seq = 1; seq <= 10_000; seq++) {
      const length = 1 + Math.floor(random() * (random() < 0.01 ? 3000 : 120));
      lengths.push(length);
      ring.push(frame(seq, Math.max(4, length)));
      // The model: the longest run of newest frames within both limits (at least the newest one).
      let held = 0;
      let bytes = 0;
      for (let i = lengths.length - 1; i >= 0 && held < maxFrames; i--) {
        const next = bytes + Math.max(4, lengths[i] ?? 0);
        if (held > 0 && next > maxBytes) break;
        held++;
        bytes = next;
      }
      if (ring.size !== held || ring.byteSize !== bytes || ring.oldestSeq !== seq - held + 1) {
        expect.fail(
          `seed ${seed}, seq ${seq}: ring holds ${ring.size} frames / ${ring.byteSize} bytes from ${ring.oldestSeq}; model ${held} / ${bytes}`,
        );
      }
      if (seq % 101 === 0) {
        const oldest = seq - held + 1;
        expect(seqs(ring.since(oldest - 1, seq))).toEqual(Array.from({ length: held }, (_, i) => oldest + i));
        expect(ring.since(oldest - 2, seq)).toBeUndefined();
        expect(seqs(ring.since(seq - 1, seq))).toEqual([seq]);
      }
    }
  });
});
