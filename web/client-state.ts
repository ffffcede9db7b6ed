/**
 * @module client-state
 * The page's model of the canvas, free of the DOM so it runs in Node tests: the server's pixels, the
 * sequence the page holds, frames waiting for earlier ones, and the placements still waiting for the
 * server (an overlay drawn on top of the server's pixels).
 *
 * Joining without gaps [P14]: the page opens its sockets first and buffers every Pixels frame, then
 * applies a snapshot that says which sequence it contains, then the buffered frames newer than it.
 * After that a frame is applied only when it is exactly the next sequence; a later one waits in the
 * buffer while the page asks the server to catch it up. Frames come on two sockets [P19] — the
 * broadcast and its replay on the live socket, catch-up replies on the edge socket — so the same frame
 * may arrive twice and out of order; a sequence the page holds or buffers is ignored. Nothing here
 * sends anything: methods return what happened and `takeCatchUp` says when to ask, so the session
 * decides when to touch a socket.
 *
 * What the page shows at a pixel, top layer first: a pixel queued while offline (web/outbox.ts), else
 * the newest placement sent and not yet answered, else the server's colour.
 */

import type { Decoded, Pixel, PixelsFrame, Snapshot } from "../worker/protocol.ts";
import { decodeSnapshot, gunzip } from "../worker/protocol.ts";

/**
 * How long an optimistic placement waits for the server before the overlay drops it. A placement sent
 * on a socket that then closed may never be answered (neither broadcast nor rejected); without a limit
 * its colour would stay on screen forever.
 */
export const PENDING_TTL_MS = 15_000;

/**
 * How long an unanswered catch-up request stands before it is sent again. Until then, frames arriving
 * out of order are taken to be the answer in flight, so a long replay does not trigger a request per frame.
 */
export const CATCH_UP_RETRY_MS = 3_000;

/**
 * Most pixels held in frames waiting for earlier ones (a slow snapshot under heavy traffic). Beyond it a
 * frame is dropped rather than held: the gap it leaves is caught up (or resynced) like any other.
 */
export const MAX_BUFFERED_PIXELS = 500_000;

/** What `applyFrame` did with a frame. */
export type FrameResult =
  /** It was the next sequence and is on the canvas (with any buffered frames it unblocked). */
  | "applied"
  /** The page already holds that sequence; ignored. */
  | "duplicate"
  /** Held until a snapshot arrives (joining, or after a resync). */
  | "buffered"
  /** Held because earlier frames are missing: ask the server to catch up (see `takeCatchUp`). */
  | "gap"
  /** Not held: the buffer is full. The gap it leaves is caught up later. */
  | "dropped";

/** What `applySnapshot` did with a snapshot. */
export type SnapshotResult =
  | "applied"
  /** Older than what the page already holds; ignored. After a resync, fetch again a little later. */
  | "stale"
  /** Another shape than this canvas: the server's canvas changed, so this state is obsolete. */
  | "mismatch";

/**
 * Beyond this many changed pixels between two paints (a share of the canvas), repaint everything
 * instead of tracking them one by one: a hidden tab gets no animation frames but keeps receiving
 * pixels, and the set of changed pixels must not grow to the size of the canvas.
 */
export const DIRTY_SHARE_LIMIT = 1 / 8;

/** A rectangle of the canvas, in pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

interface PendingPlace {
  /** Pixel index → colour, for the pixels of this placement that no broadcast has touched yet. */
  pixels: Map<number, number>;
  /** When it was sent. */
  at: number;
  /** When the person placed it (earlier than `at` if it waited in the offline queue). */
  placedAt: number;
}

/** A placement taken back from the pending ones (see `withdraw`). */
export interface Withdrawn {
  pixels: Pixel[];
  placedAt: number;
}

interface Overlay {
  nonce: number;
  colour: number;
}

export class CanvasState {
  readonly width: number;
  readonly height: number;
  readonly paletteSize: number;

  /** The server's truth as of `seq`: one palette index per pixel, row-major. */
  private readonly pixels: Uint8Array;
  private currentSeq = 0;
  private holdsData = false;
  private live = false;
  /** The newest sequence the server is known to have (from its hello or a resync). */
  private serverSeq = 0;
  private readonly buffered = new Map<number, readonly Pixel[]>();
  private bufferedPixels = 0;
  /** The catch-up request in flight: the sequence it should bring the page to, and when it was sent. */
  private catchUp: { target: number; at: number } | undefined;

  /** Nonce → placement, in the order placed (Map keeps insertion order; newest last). */
  private readonly pending = new Map<number, PendingPlace>();
  /** Pixel index → the newest pending placement there. Invariant: an index is here iff some pending entry has it. */
  private readonly overlay = new Map<number, Overlay>();
  /** Pixel index → colour of pixels queued while offline: drawn above everything else. */
  private queued = new Map<number, number>();

  private readonly dirty = new Set<number>();
  private allDirty = true;
  private readonly dirtyLimit: number;
  private applied = 0;

  constructor(width: number, height: number, paletteSize: number) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new RangeError(`bad canvas size ${width}×${height}`);
    }
    this.width = width;
    this.height = height;
    this.paletteSize = paletteSize;
    this.pixels = new Uint8Array(width * height);
    this.dirtyLimit = Math.max(64, Math.floor(width * height * DIRTY_SHARE_LIMIT));
  }

  /** The sequence of the newest frame the page holds; 0 before the first snapshot. */
  get seq(): number {
    return this.currentSeq;
  }

  /** True once a snapshot has been applied: the pixels mean something (perhaps while resyncing). */
  get hasData(): boolean {
    return this.holdsData;
  }

  /** True when frames are applied as they come; false while waiting for a snapshot. */
  get synced(): boolean {
    return this.live;
  }

  /** True when the page knows of frames it does not hold yet. */
  get behind(): boolean {
    return this.live && (this.serverSeq > this.currentSeq || this.buffered.size > 0);
  }

  /** Placements sent and not yet answered. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Pixels of the placements sent and not yet answered. */
  get pendingPixelCount(): number {
    let count = 0;
    for (const entry of this.pending.values()) count += entry.pixels.size;
    return count;
  }

  /** Pixels applied from Pixels frames since this state was created (not counting snapshots). */
  get appliedPixels(): number {
    return this.applied;
  }

  get bufferedCount(): number {
    return this.buffered.size;
  }

  // -------------------------------------------------------------------------------------------------
  // Sequence: snapshot, frames, gaps

  /** Notes the server's newest sequence (from a hello), so a gap is seen even with no frame buffered. */
  serverAt(seq: number): void {
    this.serverSeq = Math.max(this.serverSeq, seq);
  }

  /**
   * The server said the page is too far behind to catch up: hold frames again until a fresh snapshot.
   * The pixels stay on screen meanwhile. A server sequence below the page's own means the server's
   * history is not the one the page followed, so the page's sequence stops counting.
   */
  resync(serverSeq: number): void {
    this.live = false;
    this.catchUp = undefined;
    if (serverSeq < this.currentSeq) {
      this.currentSeq = 0;
      this.holdsData = false;
      this.serverSeq = serverSeq;
      this.clearBuffer();
    }
    this.serverAt(serverSeq);
  }

  applySnapshot(snapshot: Snapshot): SnapshotResult {
    if (snapshot.width !== this.width || snapshot.height !== this.height) return "mismatch";
    if (snapshot.pixels.length !== this.pixels.length) return "mismatch";
    // An older snapshot cannot help: the server could not catch the page up from there either, so it
    // would only undo pixels the page already shows.
    if (this.holdsData && snapshot.seq < this.currentSeq) return "stale";
    for (let i = 0; i < snapshot.pixels.length; i++) {
      const colour = snapshot.pixels[i] ?? 0;
      this.pixels[i] = colour < this.paletteSize ? colour : 0;
    }
    this.currentSeq = snapshot.seq;
    this.serverAt(snapshot.seq);
    this.holdsData = true;
    this.live = true;
    this.allDirty = true;
    for (const [seq, pixels] of this.buffered) {
      if (seq <= snapshot.seq) this.unbuffer(seq, pixels);
    }
    this.drain();
    return "applied";
  }

  applyFrame(frame: Pick<PixelsFrame, "seq" | "pixels">): FrameResult {
    if (frame.seq <= this.currentSeq || this.buffered.has(frame.seq)) return "duplicate";
    if (this.live && frame.seq === this.currentSeq + 1) {
      this.applyPixels(frame.seq, frame.pixels);
      this.drain();
      return "applied";
    }
    if (this.bufferedPixels + frame.pixels.length > MAX_BUFFERED_PIXELS) return "dropped";
    this.buffered.set(frame.seq, frame.pixels);
    this.bufferedPixels += frame.pixels.length;
    return this.live ? "gap" : "buffered";
  }

  /**
   * The sequence to ask the server to catch up from, or undefined when no request is due: the page is
   * up to date, waiting for a snapshot, or a request is still in flight (sent less than
   * `CATCH_UP_RETRY_MS` ago and not yet fulfilled). Returning a sequence records the request as sent.
   */
  takeCatchUp(now: number): number | undefined {
    if (!this.behind) {
      this.catchUp = undefined;
      return undefined;
    }
    const inFlight = this.catchUp;
    if (inFlight && this.currentSeq < inFlight.target && now - inFlight.at < CATCH_UP_RETRY_MS) return undefined;
    this.catchUp = { target: this.head(), at: now };
    return this.currentSeq;
  }

  /**
   * The live socket was opened from the page's sequence, so the canvas replays what the page missed
   * [P19]: that is a catch-up request in flight, and asking again now would only duplicate it.
   */
  resumed(now: number): void {
    if (this.behind) this.catchUp = { target: this.head(), at: now };
  }

  /** The connection closed: any catch-up request in flight (or replay) died with it. */
  connectionLost(): void {
    this.catchUp = undefined;
  }

  private head(): number {
    let head = Math.max(this.serverSeq, this.currentSeq);
    for (const seq of this.buffered.keys()) head = Math.max(head, seq);
    return head;
  }

  /** Applies buffered frames for as long as the next sequence is there. */
  private drain(): void {
    for (let next = this.buffered.get(this.currentSeq + 1); next; next = this.buffered.get(this.currentSeq + 1)) {
      this.unbuffer(this.currentSeq + 1, next);
      this.applyPixels(this.currentSeq + 1, next);
    }
  }

  private unbuffer(seq: number, pixels: readonly Pixel[]): void {
    this.buffered.delete(seq);
    this.bufferedPixels -= pixels.length;
  }

  private clearBuffer(): void {
    this.buffered.clear();
    this.bufferedPixels = 0;
  }

  private applyPixels(seq: number, pixels: readonly Pixel[]): void {
    for (const p of pixels) {
      const index = this.indexOf(p.x, p.y);
      if (index === undefined || p.colour >= this.paletteSize) continue;
      this.pixels[index] = p.colour;
      this.applied++;
      this.markDirty(index);
      // The server's order is the truth: once a broadcast has set this pixel, no pending placement
      // of ours speaks for it any more (ours, if accepted, comes in this or a later frame).
      if (this.overlay.has(index)) this.settle(index);
    }
    this.currentSeq = seq;
    this.serverAt(seq);
  }

  // -------------------------------------------------------------------------------------------------
  // Optimistic placements

  /** Shows a placement at once, before the server has answered the Place frame with this nonce. */
  addPending(nonce: number, pixels: readonly Pixel[], now: number, placedAt = now): void {
    const entry: PendingPlace = { pixels: new Map(), at: now, placedAt };
    for (const p of pixels) {
      const index = this.indexOf(p.x, p.y);
      if (index === undefined || p.colour >= this.paletteSize) continue;
      entry.pixels.set(index, p.colour);
      this.overlay.set(index, { nonce, colour: p.colour });
      this.markDirty(index);
    }
    if (entry.pixels.size === 0) return;
    // Re-inserting keeps "newest last" true even if a nonce were ever reused.
    this.pending.delete(nonce);
    this.pending.set(nonce, entry);
  }

  /**
   * The server rejected the Place frame with this nonce: its pixels show the server's colour again
   * (or an older placement still pending there). Returns whether anything was rolled back.
   */
  reject(nonce: number): boolean {
    return this.withdraw(nonce) !== undefined;
  }

  /**
   * Takes back the placement with this nonce, like `reject`, and returns its pixels that no broadcast
   * has touched yet (the session puts them back in the offline queue when their socket closed before
   * the server answered). Undefined if no such placement is pending.
   */
  withdraw(nonce: number): Withdrawn | undefined {
    const entry = this.pending.get(nonce);
    if (!entry) return undefined;
    this.pending.delete(nonce);
    const pixels: Pixel[] = [];
    for (const [index, colour] of entry.pixels) {
      this.recomputeOverlay(index);
      pixels.push({ x: index % this.width, y: Math.floor(index / this.width), colour });
    }
    return { pixels, placedAt: entry.placedAt };
  }

  /** The nonces of the placements sent and not yet answered, oldest first. */
  pendingNonces(): number[] {
    return [...this.pending.keys()];
  }

  /** When the pending placement with this nonce was placed; undefined if it is not pending. */
  placedAt(nonce: number): number | undefined {
    return this.pending.get(nonce)?.placedAt;
  }

  /**
   * Shows these pixels (the offline queue, oldest first) above everything else, replacing the pixels
   * shown by the previous call. Broadcasts do not clear them: they have not been sent, and once sent
   * they will be newer than anything the server holds now.
   */
  showQueued(pixels: readonly Pixel[]): void {
    const next = new Map<number, number>();
    for (const p of pixels) {
      const index = this.indexOf(p.x, p.y);
      if (index !== undefined && p.colour < this.paletteSize) next.set(index, p.colour);
    }
    for (const [index, colour] of this.queued) if (next.get(index) !== colour) this.markDirty(index);
    for (const [index, colour] of next) if (this.queued.get(index) !== colour) this.markDirty(index);
    this.queued = next;
  }

  /** Drops placements the server has not answered within `ttlMs`. Returns how many were dropped. */
  expirePending(now: number, ttlMs = PENDING_TTL_MS): number {
    let expired = 0;
    for (const [nonce, entry] of this.pending) {
      if (now - entry.at < ttlMs) continue;
      this.pending.delete(nonce);
      for (const index of entry.pixels.keys()) this.recomputeOverlay(index);
      expired++;
    }
    return expired;
  }

  /** A broadcast set this pixel: it leaves every pending placement. */
  private settle(index: number): void {
    this.overlay.delete(index);
    for (const [nonce, entry] of this.pending) {
      if (entry.pixels.delete(index) && entry.pixels.size === 0) this.pending.delete(nonce);
    }
  }

  /** Points the overlay at the newest pending placement still covering this pixel, if any. */
  private recomputeOverlay(index: number): void {
    let newest: Overlay | undefined;
    for (const [nonce, entry] of this.pending) {
      const colour = entry.pixels.get(index);
      if (colour !== undefined) newest = { nonce, colour };
    }
    if (newest) this.overlay.set(index, newest);
    else this.overlay.delete(index);
    this.markDirty(index);
  }

  private markDirty(index: number): void {
    if (this.allDirty) return;
    this.dirty.add(index);
    if (this.dirty.size > this.dirtyLimit) {
      this.allDirty = true;
      this.dirty.clear();
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Reading

  /**
   * The colour shown at (x, y): a queued pixel's, else a pending placement's, else the server's.
   * Undefined outside the canvas.
   */
  colourAt(x: number, y: number): number | undefined {
    const index = this.indexOf(x, y);
    return index === undefined ? undefined : this.shownAt(index);
  }

  /** Whether (x, y) shows one of this page's own pixels that the server has not confirmed yet. */
  isUnconfirmed(x: number, y: number): boolean {
    const index = this.indexOf(x, y);
    return index !== undefined && (this.queued.has(index) || this.overlay.has(index));
  }

  /** The server's colour at (x, y), ignoring pending placements. Undefined outside the canvas. */
  serverColourAt(x: number, y: number): number | undefined {
    const index = this.indexOf(x, y);
    return index === undefined ? undefined : this.pixels[index];
  }

  /**
   * Writes every pixel shown that changed since the last call into `target` (one 32-bit colour per
   * pixel, from `lut`, a colour per palette index) and returns the rectangle it touched, or undefined
   * when nothing changed. Lets the renderer repaint only what changed, at most once per frame.
   */
  renderInto(target: Uint32Array, lut: Uint32Array): Rect | undefined {
    if (this.allDirty) {
      this.allDirty = false;
      this.dirty.clear();
      for (let i = 0; i < this.pixels.length; i++) target[i] = lut[this.pixels[i] ?? 0] ?? 0;
      for (const [index, o] of this.overlay) target[index] = lut[o.colour] ?? 0;
      for (const [index, colour] of this.queued) target[index] = lut[colour] ?? 0;
      return { x: 0, y: 0, width: this.width, height: this.height };
    }
    if (this.dirty.size === 0) return undefined;
    let minX = this.width;
    let minY = this.height;
    let maxX = -1;
    let maxY = -1;
    for (const index of this.dirty) {
      target[index] = lut[this.shownAt(index)] ?? 0;
      const x = index % this.width;
      const y = (index - x) / this.width;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
    this.dirty.clear();
    return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
  }

  /** Marks everything for repainting (a new pixel buffer, a new palette). */
  invalidate(): void {
    this.allDirty = true;
  }

  private shownAt(index: number): number {
    return this.queued.get(index) ?? this.overlay.get(index)?.colour ?? this.pixels[index] ?? 0;
  }

  private indexOf(x: number, y: number): number | undefined {
    if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= this.width || y >= this.height) {
      return undefined;
    }
    return y * this.width + x;
  }
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/**
 * Turns the body of `GET /api/canvas` into a snapshot. The body is gzip bytes served as data (no
 * Content-Encoding), so the page decompresses it itself; a body that is not gzip (a proxy that
 * decompressed it on the way) is read as the raw snapshot, which `decodeSnapshot` still validates.
 */
export async function decodeSnapshotBody(body: Uint8Array, paletteSize: number): Promise<Decoded<Snapshot>> {
  const gzipped = body[0] === GZIP_MAGIC_0 && body[1] === GZIP_MAGIC_1;
  return decodeSnapshot(gzipped ? await gunzip(body) : body, paletteSize);
}
