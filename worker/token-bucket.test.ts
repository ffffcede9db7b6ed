/**
 * Tests of the edge's token bucket (token-bucket.ts): refill arithmetic, the cap, all-or-nothing
 * takes, waitMs (and its Infinity), and a clock that steps backwards. Every time is passed in, so
 * nothing here sleeps or reads a clock.
 */

import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket.ts";

const T0 = 1_700_000_000_000; // a realistic Date.now(), so nothing relies on time starting at 0

describe("TokenBucket", () => {
  it("starts full", () => {
    const bucket = new TokenBucket(30, 10, T0);
    expect(bucket.available(T0)).toBe(30);
  });

  it("rejects a capacity or rate that is not positive", () => {
    expect(() => new TokenBucket(0, 10, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(10, 0, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(-1, 10, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(10, Number.NaN, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN, 10, T0)).toThrow(RangeError);
  });

  it("take subtracts the cost", () => {
    const bucket = new TokenBucket(30, 10, T0);
    expect(bucket.take(12, T0)).toBe(true);
    expect(bucket.available(T0)).toBe(18);
    expect(bucket.take(18, T0)).toBe(true);
    expect(bucket.available(T0)).toBe(0);
  });

  it("[P11] take is all or nothing: a cost above what is there takes nothing", () => {
    const bucket = new TokenBucket(30, 10, T0);
    expect(bucket.take(25, T0)).toBe(true);
    expect(bucket.take(6, T0)).toBe(false);
    expect(bucket.available(T0)).toBe(5);
    expect(bucket.take(5, T0)).toBe(true);
    expect(bucket.take(1, T0)).toBe(false);
    expect(bucket.available(T0)).toBe(0);
  });

  it("[P11] a cost above the capacity is never taken, even from a full bucket", () => {
    const bucket = new TokenBucket(30, 10, T0);
    expect(bucket.take(31, T0)).toBe(false);
    expect(bucket.take(31, T0 + 1_000_000)).toBe(false);
    expect(bucket.available(T0 + 1_000_000)).toBe(30);
  });

  it("[P11] refills continuously at ratePerSecond", () => {
    const bucket = new TokenBucket(30, 10, T0);
    bucket.take(30, T0);
    expect(bucket.available(T0 + 100)).toBeCloseTo(1, 10);
    expect(bucket.available(T0 + 250)).toBeCloseTo(2.5, 10);
    expect(bucket.available(T0 + 1000)).toBeCloseTo(10, 10);
    expect(bucket.take(10, T0 + 1000)).toBe(true);
    expect(bucket.take(0.5, T0 + 1000)).toBe(false);
    expect(bucket.take(1, T0 + 1100)).toBe(true);
  });

  it("a fractional rate refills fractionally", () => {
    const bucket = new TokenBucket(2, 0.5, T0);
    bucket.take(2, T0);
    expect(bucket.take(1, T0 + 1999)).toBe(false);
    expect(bucket.take(1, T0 + 2000)).toBe(true);
  });

  it("[P11] refill stops at the capacity, however long the bucket sat idle", () => {
    const bucket = new TokenBucket(30, 10, T0);
    bucket.take(30, T0);
    expect(bucket.available(T0 + 60_000)).toBe(30);
    // an idle hour does not let a burst of more than the capacity through
    expect(bucket.take(30, T0 + 3_600_000)).toBe(true);
    expect(bucket.take(1, T0 + 3_600_000)).toBe(false);
  });

  it("[P11] a steady sender at the rate is never refused; one just above it is", () => {
    const steady = new TokenBucket(5, 10, T0);
    for (let i = 1; i <= 1000; i++) expect(steady.take(1, T0 + i * 100)).toBe(true);

    const greedy = new TokenBucket(5, 10, T0);
    let refused = 0;
    for (let i = 1; i <= 1000; i++) if (!greedy.take(1, T0 + i * 90)) refused++;
    // 1000 tries in 90 s at 10/s with a burst of 5: at most 905 succeed
    expect(refused).toBeGreaterThanOrEqual(95);
    expect(refused).toBeLessThan(120);
  });

  describe("waitMs", () => {
    it("is 0 when the tokens are there", () => {
      const bucket = new TokenBucket(30, 10, T0);
      expect(bucket.waitMs(30, T0)).toBe(0);
      expect(bucket.waitMs(1, T0)).toBe(0);
    });

    it("[P11] is the time until the missing tokens have refilled", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.take(30, T0);
      expect(bucket.waitMs(30, T0)).toBeCloseTo(3000, 6);
      expect(bucket.waitMs(5, T0)).toBeCloseTo(500, 6);
      expect(bucket.waitMs(5, T0 + 200)).toBeCloseTo(300, 6);
      expect(bucket.waitMs(30, T0 + 200)).toBeCloseTo(2800, 6);
    });

    it("does not take anything", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.waitMs(30, T0);
      bucket.waitMs(30, T0);
      expect(bucket.available(T0)).toBe(30);
    });

    it("[P11] agrees with take: refused just before the wait is over, accepted at its end", () => {
      const bucket = new TokenBucket(20, 7, T0);
      bucket.take(17, T0);
      const wait = bucket.waitMs(11, T0);
      expect(wait).toBeGreaterThan(0);
      expect(bucket.take(11, T0 + wait - 1)).toBe(false);
      expect(bucket.take(11, T0 + Math.ceil(wait))).toBe(true);
    });

    it("[P11] is Infinity when the cost is more than the capacity", () => {
      const bucket = new TokenBucket(30, 10, T0);
      expect(bucket.waitMs(31, T0)).toBe(Number.POSITIVE_INFINITY);
      bucket.take(30, T0);
      expect(bucket.waitMs(31, T0)).toBe(Number.POSITIVE_INFINITY);
      expect(bucket.waitMs(30, T0)).toBeCloseTo(3000, 6);
      expect(bucket.waitMs(31, T0 + 10_000)).toBe(Number.POSITIVE_INFINITY);
    });
  });

  describe("a clock that steps backwards", () => {
    it("does not drain the bucket", () => {
      const bucket = new TokenBucket(30, 10, T0);
      expect(bucket.available(T0 - 60_000)).toBe(30);
      bucket.take(10, T0);
      expect(bucket.available(T0 - 5_000)).toBe(20);
      expect(bucket.take(20, T0 - 5_000)).toBe(true);
      expect(bucket.available(T0 - 5_000)).toBe(0);
    });

    it("does not refill the same interval twice when the clock comes forward again", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.take(30, T0 + 1000); // empty at T0 + 1 s
      bucket.available(T0); // a step back: no change, and the bucket stays dated T0 + 1 s
      // from T0 + 1 s to T0 + 1.5 s is 0.5 s: 5 tokens, not the 15 that counting from T0 would give
      expect(bucket.available(T0 + 1500)).toBeCloseTo(5, 10);
    });

    it("waitMs never goes negative and a step back does not lengthen it", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.take(30, T0);
      expect(bucket.waitMs(10, T0)).toBeCloseTo(1000, 6);
      expect(bucket.waitMs(10, T0 - 2000)).toBeCloseTo(1000, 6);
      expect(bucket.waitMs(10, T0 + 5000)).toBe(0);
    });
  });

  describe("setLimits", () => {
    it("keeps the tokens earned so far when the capacity grows, without granting the difference", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.take(20, T0); // 10 left
      bucket.setLimits(50, 10, T0 + 500); // 5 more earned before the change
      expect(bucket.capacity).toBe(50);
      expect(bucket.available(T0 + 500)).toBeCloseTo(15, 10);
      // and it may now fill past the old capacity
      expect(bucket.available(T0 + 60_000)).toBe(50);
    });

    it("caps the tokens at a lower capacity", () => {
      const full = new TokenBucket(30, 10, T0);
      full.setLimits(5, 10, T0);
      expect(full.available(T0)).toBe(5);
      expect(full.take(6, T0 + 60_000)).toBe(false);
      expect(full.take(5, T0 + 60_000)).toBe(true);

      const half = new TokenBucket(30, 10, T0);
      half.take(27, T0); // 3 left, under the new capacity: kept
      half.setLimits(5, 10, T0);
      expect(half.available(T0)).toBe(3);
    });

    it("refills at the old rate up to the change and at the new rate after it", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.take(30, T0);
      bucket.setLimits(30, 100, T0 + 1000);
      expect(bucket.ratePerSecond).toBe(100);
      expect(bucket.available(T0 + 1000)).toBeCloseTo(10, 10); // 1 s at 10/s
      expect(bucket.available(T0 + 1100)).toBeCloseTo(20, 10); // then 0.1 s at 100/s
      expect(bucket.waitMs(30, T0 + 1100)).toBeCloseTo(100, 6);
    });

    it("a lower rate slows the refill", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.take(30, T0);
      bucket.setLimits(30, 1, T0);
      expect(bucket.available(T0 + 1000)).toBeCloseTo(1, 10);
      expect(bucket.waitMs(10, T0 + 1000)).toBeCloseTo(9000, 6);
    });

    it("a change dated before the last update (a clock step back) does not drain or refill", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.take(10, T0);
      bucket.setLimits(40, 10, T0 - 5000);
      expect(bucket.available(T0)).toBe(20);
    });

    it("refuses a capacity or rate that is not positive, and leaves the bucket as it was", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.take(10, T0);
      for (const [capacity, rate] of [
        [0, 10],
        [-1, 10],
        [Number.NaN, 10],
        [30, 0],
        [30, -5],
        [30, Number.NaN],
      ] as const) {
        expect(() => bucket.setLimits(capacity, rate, T0), `${capacity}, ${rate}`).toThrow(RangeError);
      }
      expect(bucket.capacity).toBe(30);
      expect(bucket.ratePerSecond).toBe(10);
      expect(bucket.available(T0)).toBe(20);
    });
  });

  describe("isFull", () => {
    it("is true for a fresh bucket and false once anything is taken", () => {
      const bucket = new TokenBucket(30, 10, T0);
      expect(bucket.isFull(T0)).toBe(true);
      bucket.take(0.5, T0);
      expect(bucket.isFull(T0)).toBe(false);
    });

    it("is true again once the bucket has refilled, not before", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.take(5, T0);
      expect(bucket.isFull(T0 + 499)).toBe(false);
      expect(bucket.isFull(T0 + 500)).toBe(true);
    });

    it("a failed take leaves a full bucket full", () => {
      const bucket = new TokenBucket(30, 10, T0);
      expect(bucket.take(31, T0)).toBe(false);
      expect(bucket.isFull(T0)).toBe(true);
    });

    it("follows setLimits: full after a cut, not full after a raise until refilled", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.take(10, T0);
      bucket.setLimits(20, 10, T0);
      expect(bucket.isFull(T0)).toBe(true);
      bucket.setLimits(40, 10, T0);
      expect(bucket.isFull(T0)).toBe(false);
      expect(bucket.isFull(T0 + 2000)).toBe(true);
    });

    it("a clock stepping back does not make a bucket full", () => {
      const bucket = new TokenBucket(30, 10, T0);
      bucket.take(30, T0);
      expect(bucket.isFull(T0 - 60_000)).toBe(false);
    });
  });
});
