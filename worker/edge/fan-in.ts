/**
 * @module fan-in
 * One edge isolate's placements, gathered into few messages to the canvas. Plain data at module
 * scope, shared by the isolate's sessions; no sockets or timers here.
 *
 * Why: every message into the Canvas Durable Object is an event on its one thread, and with one
 * message per placement the object's input, not its broadcasts, is what runs out first when people
 * draw fast (docs/performance.md). An isolate cannot share one upstream socket among its clients
 * (I/O belongs to the request that made it), but it can share *data*: a session that accepted a
 * placement queues it here, and whichever session is the batch's carrier sends the whole queue over
 * its own channel, so the canvas gets one PlaceBatch per isolate per window instead of one message
 * per placement. Each entry names its session, so the canvas meters it against the right identity
 * and answers on the right channel.
 *
 * Pacing: each window of `windowMs`, the first `burst` placements leave at once, each on its own
 * (a person clicking, or a quiet isolate, waits for nothing); placements beyond that in the same
 * window wait for its end and leave together, carried by the session that queued the first of them.
 * So the canvas gets at most `burst + 1` placement messages per window from an isolate, however fast
 * its clients draw. Holding every placement for a window instead was measured to cost more than it
 * saves when the thread is busy fanning frames out: a held placement's timer fires behind that work
 * and misses the hub's next flush (docs/performance.md). A queue that reaches the size of one
 * broadcast frame leaves at once.
 */
import { type BatchedPlacement, MAX_BATCH_PIXELS, type Pixel } from "../protocol.ts";

/** Placements per window that leave at once, before the window holds the rest. */
export const FAN_IN_BURST = 4;

/** What the session that queued a placement must do. */
export type FanInAction =
  /** Drain the queue and send it now, over your channel. */
  | { kind: "send" }
  /** You carry this batch: drain and send it after `ms` (a timer in your own request context). */
  | { kind: "carry"; ms: number }
  /** Another session carries it; nothing to do. */
  | { kind: "queued" };

export class FanIn {
  private queue: BatchedPlacement[] = [];
  private pixels = 0;
  private windowStart = Number.NEGATIVE_INFINITY;
  /** Messages sent to the canvas since `windowStart`. */
  private sentInWindow = 0;
  /** The session holding the timer that will send the queue, if any. */
  private carrierSession: number | undefined;

  constructor(
    /** The window; 0 sends every placement at once (no batching). */
    readonly windowMs: number,
    /** Placements a window lets through at once before it holds the rest. */
    readonly burst = FAN_IN_BURST,
    readonly maxPixels = MAX_BATCH_PIXELS,
  ) {}

  get carrier(): number | undefined {
    return this.carrierSession;
  }

  get queuedPlacements(): number {
    return this.queue.length;
  }

  /** Queues an accepted placement of `session` and says what that session must do about it. */
  add(session: number, nonce: number, pixels: Pixel[], now: number): FanInAction {
    this.queue.push({ session, nonce, pixels });
    this.pixels += pixels.length;
    // A full frame's worth leaves at once, whoever carries the rest.
    if (this.pixels >= this.maxPixels) return { kind: "send" };
    if (this.carrierSession !== undefined) return { kind: "queued" };
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.sentInWindow = 0;
    }
    if (this.sentInWindow < this.burst) {
      this.sentInWindow += 1;
      return { kind: "send" };
    }
    this.carrierSession = session;
    return { kind: "carry", ms: Math.max(0, this.windowStart + this.windowMs - now) };
  }

  /**
   * Takes what is queued, up to `maxPixels`, for one PlaceBatch; empty when nothing is. Call until
   * empty: more than one batch is left only after a full frame.
   */
  drain(now: number): BatchedPlacement[] {
    if (this.carrierSession !== undefined) {
      // The carried batch opens the next window, as its first message.
      this.carrierSession = undefined;
      this.windowStart = now;
      this.sentInWindow = 1;
    }
    if (this.queue.length === 0) return [];
    let taken = 0;
    let pixels = 0;
    while (taken < this.queue.length) {
      const next = this.queue[taken];
      if (!next || (taken > 0 && pixels + next.pixels.length > this.maxPixels)) break;
      pixels += next.pixels.length;
      taken += 1;
    }
    const batch = this.queue.splice(0, taken);
    this.pixels -= pixels;
    return batch;
  }

  /** A batch that could not be sent goes back to the front, to leave with the next one. */
  requeue(batch: readonly BatchedPlacement[]): void {
    if (batch.length === 0) return;
    this.queue.unshift(...batch);
    for (const p of batch) this.pixels += p.pixels.length;
  }

  /** The carrier is leaving: whatever it carried needs a new sender (the caller sends it now). */
  carrierLeft(session: number): boolean {
    if (this.carrierSession !== session) return false;
    this.carrierSession = undefined;
    return this.queue.length > 0;
  }
}
