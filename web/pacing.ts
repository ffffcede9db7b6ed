/**
 * @module pacing
 * Timing rules of a well-behaved client, free of the DOM so they are tested in Node: the pixel budget
 * (a token bucket mirroring the server's announced rate limit) and the reconnect delay (capped
 * exponential backoff with full jitter). Times are milliseconds from any monotonic clock.
 */

import type { RateLimit } from "../worker/protocol.ts";

/**
 * A token bucket mirroring the server's per-connection pixel limit, so the page can show the budget
 * and hold back a click before the server would reject it. The server stays the authority: its
 * RateLimited errors pull this bucket down with `penalize`.
 */
export class TokenBucket {
  private limit: RateLimit;
  private tokens: number;
  private updatedAt: number;

  constructor(limit: RateLimit, now: number) {
    this.limit = limit;
    this.tokens = limit.burst;
    this.updatedAt = now;
  }

  /**
   * Takes a new limit (a new hello) without refilling: a reconnect must not look like a fresh budget,
   * in case the server counts per client rather than per socket.
   */
  configure(limit: RateLimit, now: number): void {
    this.refill(now);
    this.limit = limit;
    this.tokens = Math.min(this.tokens, limit.burst);
  }

  /** A burst of 0 means the server announced no limit. */
  get unlimited(): boolean {
    return this.limit.burst === 0;
  }

  get burst(): number {
    return this.limit.burst;
  }

  get pixelsPerSecond(): number {
    return this.limit.pixelsPerSecond;
  }

  /** Whole pixels that may be placed now. */
  available(now: number): number {
    if (this.unlimited) return Number.POSITIVE_INFINITY;
    this.refill(now);
    return Math.max(0, Math.floor(this.tokens));
  }

  /** Milliseconds until `count` pixels may be placed; 0 if they may now. */
  msUntil(count: number, now: number): number {
    if (this.unlimited) return 0;
    this.refill(now);
    const missing = count - this.tokens;
    if (missing <= 0) return 0;
    if (count > this.limit.burst || this.limit.pixelsPerSecond <= 0) return Number.POSITIVE_INFINITY;
    return Math.ceil((missing / this.limit.pixelsPerSecond) * 1000);
  }

  /** Takes `count` pixels if the budget allows and says whether it did. */
  tryTake(count: number, now: number): boolean {
    if (this.unlimited) return true;
    this.refill(now);
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }

  /**
   * The server rejected a placement and said the next one is accepted in `retryAfterMs`: lower the
   * bucket so that it agrees (never raise it; the server's word only ever tightens the budget).
   */
  penalize(retryAfterMs: number, now: number): void {
    if (this.unlimited) return;
    this.refill(now);
    const agreed = this.limit.pixelsPerSecond > 0 ? 1 - (retryAfterMs / 1000) * this.limit.pixelsPerSecond : 0;
    this.tokens = Math.min(this.tokens, agreed);
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt);
    this.updatedAt = Math.max(this.updatedAt, now);
    this.tokens = Math.min(this.limit.burst, this.tokens + (elapsed / 1000) * this.limit.pixelsPerSecond);
  }
}

export const BACKOFF_BASE_MS = 250;
export const BACKOFF_CAP_MS = 10_000;

/**
 * Delay before reconnect attempt `attempt` (0 for the first retry): uniformly random in
 * [0, min(cap, base·2^attempt)). Full jitter spreads a crowd of clients that lost the same server over
 * the whole window instead of having them return in lockstep.
 */
export function backoffDelay(
  attempt: number,
  random: () => number = Math.random,
  baseMs = BACKOFF_BASE_MS,
  capMs = BACKOFF_CAP_MS,
): number {
  // The exponent is clamped so that a long outage cannot overflow to Infinity.
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.floor(random() * ceiling);
}
