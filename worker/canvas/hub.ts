/**
 * @module hub
 * The broadcast hub's pacing and batching, without sockets or timers. Accepted placements wait here
 * until the next flush; each flush turns everything waiting into as few frames as possible.
 *
 * Pacing is adaptive in two ways. First, a flush may happen at most once per interval: when the hub
 * is idle the first placement finds the interval long past and leaves at once; under load placements
 * pile up behind the interval and leave together, so each socket gets a bounded number of frames per
 * second however many pixels arrive. Second, the interval itself follows the thread's load: the
 * caller reports how late each flush timer fired (`timerFired`), and lateness means the thread — the
 * object's own sends, and on one workerd thread the edges relaying them — is behind. Late timers
 * stretch the interval (multiplicatively, up to `maxIntervalMs`); timers on time shrink it back
 * towards `intervalMs`. Latency stays at a few milliseconds while the thread has room, and frames grow
 * bigger instead of more numerous when it has not. A send budget (sockets × frames per second) caps
 * the interval from below regardless.
 */
import { MAX_FRAME_PIXELS, type Pixel } from "../protocol.ts";

/** A placement waiting for the next flush, with whatever the caller needs to answer its sender. */
export interface PendingPlacement<Origin> {
  origin: Origin;
  nonce: number;
  pixels: Pixel[];
}

/** What one flush produces: sequence-numbered batches, and the placements they carry. */
export interface Batch<Origin> {
  seq: number;
  pixels: Pixel[];
  placements: PendingPlacement<Origin>[];
}

/** A flush timer later than this says the thread is behind. */
export const LATE_TIMER_MS = 3;
/** Growth of the interval per late timer, and its shrink per timer on time. */
const STRETCH = 1.5;
const RELAX = 0.97;

export class Hub<Origin> {
  private pending: PendingPlacement<Origin>[] = [];
  private pendingPixels = 0;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  /** The interval as the load has set it: from `intervalMs` up to `maxIntervalMs`. */
  private adaptiveMs: number;

  constructor(
    readonly intervalMs: number,
    /** The sequence of the newest frame already sent (from storage at start). */
    public seq: number,
    readonly maxFramePixels = MAX_FRAME_PIXELS,
    /**
     * Sends per second the hub may spend on broadcasts, all sockets together. With many sockets the
     * interval stretches so that sockets × frames/s stays within it: sending is the object's main
     * cost, and past the budget frames would queue behind each other instead of leaving.
     */
    readonly sendBudgetPerSecond = Number.POSITIVE_INFINITY,
    /** The most the load may stretch the interval to (the budget may still ask for more). */
    maxIntervalMs = intervalMs,
  ) {
    this.adaptiveMs = intervalMs;
    this.maxIntervalMs = Math.max(intervalMs, maxIntervalMs);
  }

  readonly maxIntervalMs: number;

  /** The interval the load currently asks for, before the send budget. */
  get loadIntervalMs(): number {
    return this.adaptiveMs;
  }

  /** The least time between two flushes with `sockets` to send each frame to. */
  intervalFor(sockets: number): number {
    return Math.max(this.adaptiveMs, (sockets * 1000) / this.sendBudgetPerSecond);
  }

  /**
   * A flush timer fired `lateMs` after it was due: stretch the interval if the thread is behind,
   * relax it towards `intervalMs` if not.
   */
  timerFired(lateMs: number): void {
    this.adaptiveMs =
      lateMs > LATE_TIMER_MS
        ? Math.min(this.maxIntervalMs, this.adaptiveMs * STRETCH)
        : Math.max(this.intervalMs, this.adaptiveMs * RELAX);
  }

  get pendingPixelCount(): number {
    return this.pendingPixels;
  }

  add(placement: PendingPlacement<Origin>): void {
    this.pending.push(placement);
    this.pendingPixels += placement.pixels.length;
  }

  /** Milliseconds to wait before the next flush, from `now`; 0 means flush now. */
  delayUntilFlush(now: number, sockets = 0): number {
    return Math.max(0, this.lastFlushAt + this.intervalFor(sockets) - now);
  }

  /**
   * Takes everything pending as sequence-numbered batches of at most `maxFramePixels` pixels. A
   * placement is never split across batches, so its fate (written or rejected) is one fate.
   * Sequence numbers are only claimed by `commit`, so a batch that fails to be stored leaves no hole.
   */
  drain(now: number): Batch<Origin>[] {
    this.lastFlushAt = now;
    const batches: Batch<Origin>[] = [];
    let current: Batch<Origin> | undefined;
    let seq = this.seq;
    for (const placement of this.pending) {
      if (!current || current.pixels.length + placement.pixels.length > this.maxFramePixels) {
        seq += 1;
        current = { seq, pixels: [], placements: [] };
        batches.push(current);
      }
      for (const p of placement.pixels) current.pixels.push(p);
      current.placements.push(placement);
    }
    this.pending = [];
    this.pendingPixels = 0;
    return batches;
  }

  /** Records that the batch with this sequence was stored and sent. */
  commit(seq: number): void {
    if (seq !== this.seq + 1) throw new RangeError(`commit ${seq} after ${this.seq}`);
    this.seq = seq;
  }
}
