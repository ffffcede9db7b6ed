/**
 * @module token-bucket
 * A token bucket: `capacity` tokens, refilled continuously at `ratePerSecond`. The edge keeps one per
 * connection for frames and one per identity for pixels; the canvas keeps the authoritative ones per
 * identity and per network (keyed-buckets.ts). Time is passed in, so the arithmetic is testable without
 * clocks, and the bucket never reads the time itself.
 */

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private capacityValue: number,
    private rateValue: number,
    now: number,
  ) {
    if (!(capacityValue > 0) || !(rateValue > 0)) throw new RangeError("capacity and rate must be positive");
    this.tokens = capacityValue;
    this.updatedAt = now;
  }

  get capacity(): number {
    return this.capacityValue;
  }

  get ratePerSecond(): number {
    return this.rateValue;
  }

  /**
   * Changes the limits at run time (an admin's live knob). Tokens earned so far at the old rate are
   * kept, but never more than the new capacity.
   */
  setLimits(capacity: number, ratePerSecond: number, now: number): void {
    if (!(capacity > 0) || !(ratePerSecond > 0)) throw new RangeError("capacity and rate must be positive");
    this.refill(now);
    this.capacityValue = capacity;
    this.rateValue = ratePerSecond;
    this.tokens = Math.min(this.tokens, capacity);
  }

  /** True when the bucket is full: it remembers nothing a fresh bucket would not. */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.capacityValue;
  }

  private refill(now: number): void {
    // A clock that steps backwards (it can, across isolates) must not drain the bucket.
    const elapsed = Math.max(0, now - this.updatedAt);
    this.tokens = Math.min(this.capacityValue, this.tokens + (elapsed * this.rateValue) / 1000);
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
    if (cost > this.capacityValue) return Number.POSITIVE_INFINITY;
    return cost <= this.tokens ? 0 : ((cost - this.tokens) * 1000) / this.rateValue;
  }

  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }
}
