/**
 * @module token-bucket
 * A token bucket: `capacity` tokens, refilled continuously at `ratePerSecond`. The edge keeps one per
 * connection for pixels and one for frames. Time is passed in, so the arithmetic is testable without
 * clocks, and the bucket never reads the time itself.
 */

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly capacity: number,
    readonly ratePerSecond: number,
    now: number,
  ) {
    if (!(capacity > 0) || !(ratePerSecond > 0)) throw new RangeError("capacity and rate must be positive");
    this.tokens = capacity;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    // A clock that steps backwards (it can, across isolates) must not drain the bucket.
    const elapsed = Math.max(0, now - this.updatedAt);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.ratePerSecond) / 1000);
    this.updatedAt = Math.max(this.updatedAt, now);
  }

  /** Takes `cost` tokens if all are there; otherwise takes none. */
  take(cost: number, now: number): boolean {
    this.refill(now);
    if (cost > this.tokens) return false;
    this.tokens -= cost;
    return true;
  }

  /** Milliseconds until `cost` tokens will be there (0 if they are now; Infinity if never). */
  waitMs(cost: number, now: number): number {
    this.refill(now);
    if (cost > this.capacity) return Number.POSITIVE_INFINITY;
    return cost <= this.tokens ? 0 : ((cost - this.tokens) * 1000) / this.ratePerSecond;
  }

  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }
}
