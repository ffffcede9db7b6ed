/**
 * @module outbox
 * The bounded queue of pixels placed while the page could not send them (disconnected, reconnecting,
 * or still sending earlier queued ones), free of the DOM so it is tested in Node. The session shows
 * the queued pixels on the canvas at once, sends them when the connection is back (as fast as the
 * pixel budget allows), and drops them with a message when they waited too long or the queue is full.
 *
 * Why bounded, and why by age: a page left offline must not build up an unbounded burst to fire at
 * the server on reconnect (style.md §10 — partysocket's unbounded send queue is the example to avoid),
 * and a pixel placed minutes ago on a canvas that kept changing is no longer what the person meant.
 */

import type { Pixel } from "../worker/protocol.ts";

/** Most pixels held while they cannot be sent. */
export const QUEUE_CAPACITY = 32;
/** A queued pixel that could not be sent within this long of being placed is dropped. */
export const QUEUE_MAX_AGE_MS = 30_000;

export interface Queued {
  pixel: Pixel;
  /** When it was placed (ms, any monotonic clock). */
  at: number;
}

export type PushResult =
  /** Added at the back. */
  | "queued"
  /** Replaced an earlier queued pixel at the same place, and moved to the back. */
  | "replaced"
  /** Not added: the queue holds `capacity` pixels already. */
  | "full";

export class UnsentQueue {
  /** Oldest first. Invariant: no two entries share (x, y). */
  private entries: Queued[] = [];

  constructor(
    readonly capacity = QUEUE_CAPACITY,
    readonly maxAgeMs = QUEUE_MAX_AGE_MS,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  /**
   * Queues a pixel. A later pixel at the same place replaces the earlier one: only the last colour
   * placed there matters, and keeping one pixel per place means the queued pixels may reach the server
   * in any order (frames from one socket are not always applied in the order sent; docs/protocol.md).
   */
  push(pixel: Pixel, now: number): PushResult {
    const same = this.entries.findIndex((e) => e.pixel.x === pixel.x && e.pixel.y === pixel.y);
    if (same >= 0) {
      this.entries.splice(same, 1);
      this.entries.push({ pixel, at: now });
      return "replaced";
    }
    if (this.entries.length >= this.capacity) return "full";
    this.entries.push({ pixel, at: now });
    return "queued";
  }

  /**
   * Puts back pixels that were sent but never confirmed (their socket closed), ahead of the queue
   * since they were placed earlier. A pixel whose place already has a newer queued pixel is skipped
   * (the newer one wins anyway), and so is one that does not fit. Returns the pixels not put back.
   */
  requeue(items: readonly Queued[]): Queued[] {
    const back: Queued[] = [];
    const refused: Queued[] = [];
    for (const item of items) {
      const taken = (e: Queued) => e.pixel.x === item.pixel.x && e.pixel.y === item.pixel.y;
      if (this.entries.some(taken) || back.some(taken)) continue;
      if (this.entries.length + back.length >= this.capacity) refused.push(item);
      else back.push(item);
    }
    this.entries = [...back, ...this.entries];
    return refused;
  }

  /** Removes and returns the `count` oldest pixels. */
  take(count: number): Queued[] {
    return this.entries.splice(0, Math.max(0, Math.floor(count)));
  }

  /** Drops the pixels placed more than `maxAgeMs` before `now` and returns them. */
  expire(now: number): Queued[] {
    const kept: Queued[] = [];
    const dropped: Queued[] = [];
    for (const entry of this.entries) (now - entry.at > this.maxAgeMs ? dropped : kept).push(entry);
    this.entries = kept;
    return dropped;
  }

  /** The queued pixels, oldest first (to draw them on the canvas). */
  pixels(): Pixel[] {
    return this.entries.map((e) => e.pixel);
  }
}
