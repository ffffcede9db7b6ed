/**
 * Tests of the client's pacing rules (pacing.ts): the pixel budget mirrors the server's token bucket
 * and yields to its RateLimited answers; the reconnect delay grows, is capped, and is fully jittered.
 */

import { describe, expect, it } from "vitest";
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffDelay, TokenBucket } from "./pacing.ts";

describe("TokenBucket", () => {
  it("[P11] starts full, empties by the burst, and refills at the announced rate", () => {
    const bucket = new TokenBucket({ pixelsPerSecond: 10, burst: 3 }, 0);
    expect(bucket.available(0)).toBe(3);
    expect(bucket.tryTake(1, 0)).toBe(true);
    expect(bucket.tryTake(1, 0)).toBe(true);
    expect(bucket.tryTake(1, 0)).toBe(true);
    expect(bucket.tryTake(1, 0)).toBe(false);
    expect(bucket.msUntil(1, 0)).toBe(100);
    expect(bucket.available(99)).toBe(0);
    expect(bucket.tryTake(1, 100)).toBe(true);
    expect(bucket.available(10_000)).toBe(3);
  });

  it("[P11] yields to the server: a RateLimited answer pushes the next pixel back by retryAfterMs", () => {
    const bucket = new TokenBucket({ pixelsPerSecond: 10, burst: 30 }, 0);
    bucket.penalize(500, 0);
    expect(bucket.available(0)).toBe(0);
    expect(bucket.msUntil(1, 0)).toBe(500);
    expect(bucket.tryTake(1, 499)).toBe(false);
    expect(bucket.tryTake(1, 500)).toBe(true);
  });

  it("a reconfigure (new hello) does not refill the budget", () => {
    const bucket = new TokenBucket({ pixelsPerSecond: 1, burst: 5 }, 0);
    for (let i = 0; i < 5; i++) bucket.tryTake(1, 0);
    bucket.configure({ pixelsPerSecond: 1, burst: 5 }, 0);
    expect(bucket.available(0)).toBe(0);
  });

  it("[P17] live limits (a Limits frame) change the rate and burst without a refill", () => {
    const bucket = new TokenBucket({ pixelsPerSecond: 1, burst: 2 }, 0);
    bucket.tryTake(2, 0);
    // Raised: what was spent stays spent, and refills at the new rate up to the new burst.
    bucket.configure({ pixelsPerSecond: 5, burst: 10 }, 0);
    expect(bucket.available(0)).toBe(0);
    expect(bucket.msUntil(1, 0)).toBe(200);
    expect(bucket.available(1_000)).toBe(5);
    expect(bucket.available(60_000)).toBe(10);
    // Lowered: a full bucket is cut down to the new burst at once.
    bucket.configure({ pixelsPerSecond: 1, burst: 3 }, 60_000);
    expect(bucket.available(60_000)).toBe(3);
    expect(bucket.burst).toBe(3);
    expect(bucket.pixelsPerSecond).toBe(1);
  });

  it("a burst of 0 means no announced limit", () => {
    const bucket = new TokenBucket({ pixelsPerSecond: 0, burst: 0 }, 0);
    expect(bucket.unlimited).toBe(true);
    expect(bucket.tryTake(100, 0)).toBe(true);
  });
});

describe("backoffDelay", () => {
  it("grows exponentially from the base and never passes the cap", () => {
    const top = () => 0.999999;
    expect(backoffDelay(0, top)).toBe(BACKOFF_BASE_MS - 1);
    expect(backoffDelay(1, top)).toBe(2 * BACKOFF_BASE_MS - 1);
    expect(backoffDelay(3, top)).toBe(8 * BACKOFF_BASE_MS - 1);
    expect(backoffDelay(10, top)).toBe(BACKOFF_CAP_MS - 1);
    expect(backoffDelay(10_000, top)).toBe(BACKOFF_CAP_MS - 1);
  });

  it("is fully jittered: anywhere from 0 up to the ceiling", () => {
    expect(backoffDelay(5, () => 0)).toBe(0);
    expect(backoffDelay(5, () => 0.5)).toBe(4_000);
  });
});
