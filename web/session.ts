/**
 * @module session
 * What the page and the server say to each other, between the sockets (connection.ts) and the model
 * (client-state.ts): the hello, the snapshot fetched to join, frames applied or caught up, placements
 * sent and rolled back, pixels queued while disconnected, presence, errors and close reasons. It owns
 * no DOM; it tells a `SessionView` what changed, so the page's look can grow without touching the
 * protocol logic.
 *
 * A placement's life: placed while connected, it is sent at once and shown as pending; placed while
 * not connected (or while earlier queued pixels still wait), it waits in the bounded UnsentQueue
 * (outbox.ts), shown on the canvas, and is sent when the connection is back, as fast as the pixel
 * budget allows. The server settles a sent placement by broadcasting it (it stays) or by an Error
 * frame naming its nonce (it is rolled back at once, with a message). A placement whose connection
 * closed before an answer is "unconfirmed": once the new connection's live socket has caught up to
 * where the canvas stood when it joined, an accepted placement would have been broadcast by then, so
 * whatever is still pending was lost with its connection and goes back to the queue.
 *
 * A connection is two sockets [P19] (connection.ts): the edge socket carries the hellos, placements,
 * errors, limits and catch-up replies; the live socket, opened once the edge's hello has arrived,
 * carries the broadcast and the presence. It is opened from the sequence the page holds (or, with no
 * synced canvas yet, from the hello's), so every frame after it arrives there, in order: the live
 * socket's replay is the resume, and gaps left after it are caught up on the edge socket [P8].
 *
 * The canvas announces its placement limits after every hello and again whenever an admin changes
 * them (a Limits frame [P17]): the page paces itself by the latest. The same frame says whether the
 * canvas is frozen (nobody may draw) and whether this connection's identity is banned (this browser
 * may not draw; the server sends the frame again when an admin bans or unbans it). While either holds
 * the page places nothing (the server would refuse it) and says so, and queued pixels are dropped,
 * with a message. A refusal from the server (an Error frame) stays the fallback for a page whose
 * knowledge is behind.
 */

import type {
  CanvasBounds,
  ErrorFrame,
  Limits,
  LiveHello,
  Pixel,
  Presence,
  RateLimit,
  ServerHello,
} from "../worker/protocol.ts";
import {
  decodeServerMessage,
  ERROR_NAMES,
  ErrorCode,
  encodeCatchUp,
  encodeClientHello,
  encodePlace,
  FATAL_ERRORS,
  Op,
} from "../worker/protocol.ts";
import { CanvasState, decodeSnapshotBody, type SnapshotResult } from "./client-state.ts";
import { type CloseInfo, Connection, type SocketKind } from "./connection.ts";
import { QUEUE_CAPACITY, QUEUE_MAX_AGE_MS, type Queued, UnsentQueue } from "./outbox.ts";
import { backoffDelay, TokenBucket } from "./pacing.ts";

/** What the page shows about the connection. */
export type Status = "connecting" | "connected" | "reconnecting" | "offline" | "failed";

export interface SessionView {
  /** The status changed; `text` is for people (it contains "connected" only when connected). */
  status(status: Status, text: string): void;
  /** A new canvas to show: the first hello, or the server's canvas changed shape or palette. */
  canvas(state: CanvasState, hello: ServerHello): void;
  /** Every hello (on every reconnect), for who served it. */
  hello(hello: ServerHello): void;
  /** Pixels shown changed: repaint. */
  pixels(): void;
  presence(presence: Presence): void;
  message(text: string, tone: "info" | "error"): void;
  /** The page's own unconfirmed pixels changed: `queued` wait to be sent, `awaiting` wait for a verdict. */
  outbox(queued: readonly Pixel[], awaiting: number): void;
  /** What stops this page from drawing changed, as the canvas's latest Limits frame says. */
  moderation(moderation: Moderation): void;
}

/** What stops this page from drawing, as the canvas's latest Limits frame said [P17]. */
export interface Moderation {
  /** An admin froze the canvas: nobody may draw. */
  frozen: boolean;
  /** An admin banned this browser's identity: it may watch but not draw. */
  banned: boolean;
}

export type PlaceOutcome =
  /** Sent; shown as pending until the server answers. */
  | "sent"
  /** Not connected (or earlier pixels still wait): queued, shown, sent when possible. */
  | "queued"
  /** Nothing placed: the page has no canvas yet, or stopped for good. */
  | "not_connected"
  /** Nothing placed: the pixel budget is spent (see `budget`). */
  | "rate_limited"
  /** Nothing placed: the canvas is frozen. */
  | "frozen"
  /** Nothing placed: this browser is banned from drawing (it wins over "frozen" when both hold). */
  | "banned"
  /** Nothing placed: the queue of unsent pixels is full. */
  | "queue_full"
  /** Nothing placed: outside the canvas or the palette. */
  | "outside";

export interface PlaceOptions {
  /**
   * Hold back a placement the page knows the server would refuse: over its budget, on a frozen
   * canvas, or from a banned browser (default true). False sends it anyway, as a client whose knowledge is out of date would: a
   * test hook for the server's refusals.
   */
  checkLocally?: boolean;
}

export interface Budget {
  available: number;
  burst: number;
  /** Refill rate. */
  pixelsPerSecond: number;
  /** Milliseconds until the next pixel may be placed; 0 if one may now. */
  msUntilNext: number;
}

/** How often to retry unanswered catch-ups and expire unanswered placements. */
const TICK_MS = 1_000;
/**
 * Least wait before fetching the snapshot again. The snapshot is edge-cached for about a second, so
 * asking sooner after a stale one would be answered by the same stale copy.
 */
const SNAPSHOT_RETRY_MS = 1_000;
const VERSION_MISMATCH = ERROR_NAMES[ErrorCode.VersionMismatch];
/**
 * When the wall clock moved this much further than the monotonic clock between two ticks, the machine
 * slept (the monotonic clock stops during suspend; throttling of a hidden tab delays both alike).
 */
const SLEEP_GAP_MS = 5_000;
/**
 * Queued pixels wait this much longer than the page's budget says. The edge's bucket started when the
 * socket opened and the page's when the hello arrived, and frames take varying time to get there, so
 * a pixel sent the instant the page's bucket refills can reach an edge whose bucket has not.
 */
const FLUSH_SLACK_MS = 150;

export class Session {
  private readonly connection: Connection;
  private state: CanvasState | undefined;
  private lastHello: ServerHello | undefined;
  /** The current edge socket has received its hello, so frames can be decoded against its canvas. */
  private helloOnSocket = false;
  /** The sequence the current live socket replays from: every frame after it arrives there [P19]. */
  private liveFrom = 0;
  /**
   * The sequence the current live socket's hello named, once it arrived (the link is whole only
   * then): by the time the page holds it, every placement the canvas accepted before this connection
   * joined has been broadcast on that socket.
   */
  private liveSeq: number | undefined;
  private everConnected = false;
  private failure: string | undefined;
  private bucket: TokenBucket | undefined;
  /** The rate the canvas last announced in a Limits frame; it wins over the hello's (the edge's defaults). */
  private liveRate: RateLimit | undefined;
  /**
   * Frozen and banned, as the latest Limits frame said. Both are kept across reconnects until the
   * next one (it follows every hello), so a reconnect does not briefly let a banned page draw.
   */
  private blocked: Moderation = { frozen: false, banned: false };
  private nonce = 0;
  private snapshotInFlight = false;
  private snapshotTimer: ReturnType<typeof setTimeout> | undefined;
  private snapshotAttempt = 0;
  private currentStatus: Status = "connecting";
  private statusText = "";
  /** The sequence the server named in the current edge socket's hello. */
  private helloSeq = 0;
  private readonly queue = new UnsentQueue();
  /** Nonces of placements sent on a connection that closed before the server answered them. */
  private readonly unconfirmed = new Set<number>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Nonces of Place frames sent from the queue: refused as rate limited, they are queued again. */
  private readonly fromQueue = new Set<number>();
  private shownOutbox = { queued: -1, awaiting: -1 };
  /** Pixels applied by canvas states this session replaced (for the pixelsApplied counter). */
  private retiredApplied = 0;
  private clocks = { wall: Date.now(), mono: performance.now() };

  constructor(
    socketUrl: string,
    private readonly snapshotUrl: string,
    private readonly view: SessionView,
  ) {
    this.connection = new Connection(socketUrl, {
      hello: () => this.clientHello(),
      message: (data, from) => this.onMessage(data, from),
      closed: (close) => this.onClose(close),
      link: () => this.refreshStatus(),
    });
  }

  start(): void {
    this.refreshStatus();
    this.connection.start();
    setInterval(() => this.tick(), TICK_MS);
    // A tab the browser froze (Page Lifecycle) may come back with sockets that died meanwhile.
    document.addEventListener("resume", () => this.connection.reconnect("resumed"));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.tick();
    });
  }

  get status(): Status {
    return this.currentStatus;
  }

  /** The sequence of the newest frame the page holds. */
  get seq(): number {
    return this.state?.seq ?? 0;
  }

  get canvas(): CanvasState | undefined {
    return this.state;
  }

  /** The palette index shown at (x, y), pending placements included; -1 outside the canvas. */
  pixelAt(x: number, y: number): number {
    return this.state?.colourAt(x, y) ?? -1;
  }

  /** The page's own pixels not confirmed yet: waiting for the server's verdict, or queued. */
  get pending(): number {
    return (this.state?.pendingPixelCount ?? 0) + this.queue.size;
  }

  /** The canvas is frozen: nobody may draw. */
  get frozen(): boolean {
    return this.blocked.frozen;
  }

  /** This browser is banned from drawing. */
  get banned(): boolean {
    return this.blocked.banned;
  }

  /** Pixels queued to be sent (placed while not connected). */
  get queued(): number {
    return this.queue.size;
  }

  /** Pixels applied from the server's Pixels frames since the page loaded (snapshots not counted). */
  get pixelsApplied(): number {
    return this.retiredApplied + (this.state?.appliedPixels ?? 0);
  }

  budget(now: number): Budget | undefined {
    const bucket = this.bucket;
    if (!bucket || bucket.unlimited) return undefined;
    return {
      available: bucket.available(now),
      burst: bucket.burst,
      pixelsPerSecond: bucket.pixelsPerSecond,
      msUntilNext: bucket.msUntil(1, now),
    };
  }

  /**
   * Places one pixel. Connected, it is sent and shown at once as pending; the client-side budget holds
   * back a click the server would reject anyway. Not connected, it is queued (bounded) and shown, and
   * sent on reconnect. The server's answer (a broadcast or an error) settles it.
   */
  place(x: number, y: number, colour: number, options: PlaceOptions = {}): PlaceOutcome {
    const state = this.state;
    if (!state?.hasData || this.failure) {
      const why = this.failure ? "the page stopped; reload it" : "the canvas is still loading";
      this.view.message(`Not placed: ${why}.`, "info");
      return "not_connected";
    }
    if (state.colourAt(x, y) === undefined || !Number.isInteger(colour) || colour < 0 || colour >= state.paletteSize) {
      return "outside";
    }
    const { frozen, banned } = this.blocked;
    if ((frozen || banned) && options.checkLocally !== false) {
      this.view.message(`Not placed: ${notPlaced(this.blocked)}`, "error");
      return banned ? "banned" : "frozen";
    }
    const now = performance.now();
    const pixel = { x, y, colour };
    // Behind queued or unconfirmed pixels, a new one queues too, so they reach the server in order.
    if (this.currentStatus !== "connected" || this.queue.size > 0 || this.unconfirmed.size > 0) {
      return this.enqueue(pixel, now);
    }
    const bucket = this.bucket;
    if (options.checkLocally !== false && bucket && !bucket.tryTake(1, now)) {
      this.view.message(`Rate limited: next pixel in ${seconds(bucket.msUntil(1, now))}.`, "error");
      return "rate_limited";
    }
    if (!this.send([pixel], now, now)) return this.enqueue(pixel, now);
    this.changed();
    return "sent";
  }

  /** Sends one Place frame and shows its pixels as pending; false if the edge socket is not open. */
  private send(pixels: readonly Pixel[], now: number, placedAt: number): boolean {
    const state = this.state;
    if (!state) return false;
    // Nonces run 1…2³²−1: 0 means "no particular frame" in Error frames.
    this.nonce = (this.nonce % 0xffffffff) + 1;
    if (!this.connection.send(encodePlace(this.nonce, pixels))) return false;
    state.addPending(this.nonce, pixels, now, placedAt);
    return true;
  }

  private enqueue(pixel: Pixel, now: number): PlaceOutcome {
    if (this.queue.push(pixel, now) === "full") {
      this.view.message(
        `Not placed: ${QUEUE_CAPACITY} pixels are already waiting to be sent. Wait for the connection.`,
        "error",
      );
      return "queue_full";
    }
    this.changed();
    if (this.currentStatus === "connected") {
      this.flush();
    } else {
      this.view.message(
        `Not connected: pixel queued (${this.queue.size} of ${QUEUE_CAPACITY}); it is sent when the connection is back.`,
        "info",
      );
    }
    return "queued";
  }

  /**
   * Sends queued pixels while connected: as many as the budget allows, in one Place frame (so one
   * frame of the flood budget, and all or nothing), then again when the budget has refilled. While
   * that later flush is scheduled, other calls leave it to it: sooner, the edge would refuse.
   */
  private flush(scheduled = false): void {
    if (this.flushTimer !== undefined && !scheduled) return;
    this.flushTimer = undefined;
    const bucket = this.bucket;
    const hello = this.lastHello;
    if (this.currentStatus !== "connected" || !bucket || !hello) return;
    // Unconfirmed pixels go first once their fate is known (resolveUnconfirmed).
    if (this.queue.size === 0 || this.unconfirmed.size > 0) return;
    if (this.blocked.frozen || this.blocked.banned) {
      // The server would refuse them all; keeping them until an unfreeze or unban could mean days.
      const why = this.blocked.banned ? "this browser is banned from drawing" : "the canvas is frozen";
      this.dropped(this.queue.take(this.queue.size).length, why);
      this.changed();
      return;
    }
    const now = performance.now();
    const allowed = bucket.unlimited ? Number.POSITIVE_INFINITY : bucket.available(now);
    const count = Math.min(this.queue.size, Math.max(1, hello.maxPlacePixels), allowed);
    if (count >= 1) {
      bucket.tryTake(count, now);
      const batch = this.queue.take(count);
      const placedAt = Math.min(...batch.map((b) => b.at));
      const pixels = batch.map((b) => b.pixel);
      if (!this.send(pixels, now, placedAt)) {
        this.queue.requeue(batch);
        return;
      }
      this.fromQueue.add(this.nonce);
      this.changed();
    }
    if (this.queue.size === 0) return;
    const wait = bucket.msUntil(1, performance.now());
    // An infinite wait (a budget that never refills) is left to the tick, which calls flush every second.
    if (Number.isFinite(wait)) this.flushTimer = setTimeout(() => this.flush(true), wait + FLUSH_SLACK_MS);
  }

  /**
   * Settles placements sent on a connection that closed before the server answered them, once the
   * page holds every frame up to the sequence the current live socket's hello named: that socket is
   * where broadcasts arrive, and it joined after the edge socket did, so an accepted placement would
   * have been broadcast by then (and settled). Those still pending were lost with their connection:
   * they go back to the queue and are sent again. (A placement the server accepted in the instant
   * between the two connections could be sent twice: the same colour on the same pixel, once more.)
   */
  private resolveUnconfirmed(): void {
    const state = this.state;
    const caughtUp = this.liveSeq !== undefined && state?.synced === true && state.seq >= this.liveSeq;
    if (this.unconfirmed.size === 0 || !state || !caughtUp) return;
    const lost: Queued[] = [];
    for (const nonce of this.unconfirmed) {
      const withdrawn = state.withdraw(nonce);
      if (withdrawn) for (const pixel of withdrawn.pixels) lost.push({ pixel, at: withdrawn.placedAt });
    }
    this.unconfirmed.clear();
    const refused = this.queue.requeue(lost).length + this.queue.expire(performance.now()).length;
    if (refused > 0) this.dropped(refused, "they could not be sent in time");
    this.changed();
    this.flush();
  }

  /**
   * Drops what waited too long: queued pixels not sent within QUEUE_MAX_AGE_MS of being placed, and,
   * while disconnected, unconfirmed ones as old.
   */
  private expireOutbox(now: number): void {
    const state = this.state;
    let dropped = this.queue.expire(now).length;
    if (state && this.liveSeq === undefined) {
      for (const nonce of this.unconfirmed) {
        const placedAt = state.placedAt(nonce);
        if (placedAt !== undefined && now - placedAt <= QUEUE_MAX_AGE_MS) continue;
        dropped += state.withdraw(nonce)?.pixels.length ?? 0;
        this.unconfirmed.delete(nonce);
      }
    }
    if (dropped > 0) {
      this.dropped(dropped, `the connection was gone for more than ${QUEUE_MAX_AGE_MS / 1000} s`);
      this.changed();
    }
  }

  private dropped(count: number, why: string): void {
    const what = count === 1 ? "1 unsent pixel was" : `${count} unsent pixels were`;
    this.view.message(`${what} dropped: ${why}.`, "error");
  }

  /** The pixels shown or the outbox changed: tell the view (the outbox only when its figures moved). */
  private changed(): void {
    const state = this.state;
    state?.showQueued(this.queue.pixels());
    this.view.pixels();
    const queued = this.queue.size;
    const awaiting = state?.pendingPixelCount ?? 0;
    if (queued === this.shownOutbox.queued && awaiting === this.shownOutbox.awaiting) return;
    this.shownOutbox = { queued, awaiting };
    this.view.outbox(this.queue.pixels(), awaiting);
  }

  // -------------------------------------------------------------------------------------------------
  // Socket events

  private clientHello(): Uint8Array {
    this.helloOnSocket = false;
    this.liveSeq = undefined;
    // The live socket's `from` does the resuming [P19]: a resumeSeq here would have the edge replay
    // the same frames a second time.
    return encodeClientHello(0);
  }

  private onMessage(data: ArrayBuffer, from: SocketKind): void {
    const decoded = decodeServerMessage(data, this.helloOnSocket ? this.bounds() : undefined);
    if (!decoded.ok) {
      if (decoded.error.error === ErrorCode.VersionMismatch) {
        this.fail(VERSION_MISMATCH);
        return;
      }
      // A frame the page cannot read is dropped; if it was a Pixels frame, the gap it leaves is caught up.
      console.warn(`pixel playground: ignored a frame from the server: ${decoded.error.message}`);
      return;
    }
    const message = decoded.value;
    switch (message.op) {
      case Op.ServerHello:
        if (from !== "edge" || this.helloOnSocket) this.unexpected("a server hello", from);
        else this.onHello(message);
        return;
      case Op.LiveHello:
        if (from !== "live" || this.liveSeq !== undefined) this.unexpected("a live hello", from);
        else this.onLiveHello(message);
        return;
      case Op.Pixels: {
        const state = this.state;
        if (!state) return;
        if (state.applyFrame(message) === "applied") {
          this.view.pixels();
          // A broadcast may have settled pending placements; tell the outbox only if it has any.
          if (this.shownOutbox.awaiting > 0) this.changed();
          this.resolveUnconfirmed();
        }
        this.requestCatchUp();
        return;
      }
      case Op.Presence:
        this.view.presence(message);
        return;
      case Op.Error:
        this.onError(message);
        return;
      case Op.Resync:
        this.state?.resync(message.seq);
        this.loadSnapshot();
        return;
      case Op.Limits:
        this.onLimits(message);
        return;
      default:
        // Every server message is handled above; this fails to compile when protocol.ts adds one.
        message satisfies never;
    }
  }

  private onHello(hello: ServerHello): void {
    if (hello.width < 1 || hello.height < 1) {
      console.warn(`pixel playground: the server announced a ${hello.width}×${hello.height} canvas`);
      this.connection.reconnect("bad hello");
      return;
    }
    const now = performance.now();
    let state = this.state;
    // A canvas of another shape or palette, or a server whose history is shorter than the page's
    // (its storage was reset), is a new canvas: start over from its snapshot.
    const fresh = !state || !this.lastHello || !sameCanvas(this.lastHello, hello) || hello.seq < state.seq;
    if (!state || fresh) {
      if (state) this.retiredApplied += state.appliedPixels;
      // The old canvas's pending placements went with it; queued pixels stay if they still fit.
      this.unconfirmed.clear();
      if (this.lastHello && !sameCanvas(this.lastHello, hello) && this.queue.size > 0) {
        this.dropped(this.queue.take(this.queue.size).length, "the canvas changed shape or colours");
      }
      state = new CanvasState(hello.width, hello.height, hello.palette.length);
      this.state = state;
      this.cancelSnapshotRetry();
      this.view.canvas(state, hello);
      this.changed();
    }
    state.serverAt(hello.seq);
    this.helloSeq = hello.seq;
    this.lastHello = hello;
    this.helloOnSocket = true;
    // The hello's rate is the edge's default; once the canvas has announced the live one, that stands
    // (a Limits frame follows this hello with the rate in force now).
    const rate = this.liveRate ?? hello.rateLimit;
    if (this.bucket) this.bucket.configure(rate, now);
    else this.bucket = new TokenBucket(rate, now);
    this.view.hello(hello);
    // Every frame after `liveFrom` arrives on the live socket, in order [P19]: from the page's own
    // sequence when it holds a synced canvas (the replay is its resume), else from the hello's, the
    // frames the snapshot may not hold yet [P14].
    this.liveFrom = state.synced ? state.seq : hello.seq;
    this.connection.joinLive(this.liveFrom);
    if (!state.synced) this.loadSnapshot();
    this.refreshStatus();
  }

  /** The live socket joined the broadcast: the link is whole. */
  private onLiveHello(live: LiveHello): void {
    const state = this.state;
    if (!state) return;
    if (live.seq < this.helloSeq) {
      // The canvas's history went back between the two sockets (its storage was reset): the next
      // hello shows it, and the page starts over from its snapshot.
      this.connection.reconnect("the canvas restarted");
      return;
    }
    state.serverAt(live.seq);
    this.liveSeq = live.seq;
    // The replay after `liveFrom` is a catch-up in flight when it covers the page's sequence; asking the
    // edge now would only bring the same frames twice. (It does not when a stale snapshot left the
    // page below `liveFrom`: that gap is caught up on the edge socket.)
    if (state.synced && state.seq >= this.liveFrom) state.resumed(performance.now());
    // The link opens: the status says connected (if the canvas is loaded), and queued pixels may go.
    this.connection.liveJoined();
    this.requestCatchUp();
    this.resolveUnconfirmed();
  }

  /** A hello on the wrong socket, or a second one: the server is confused; start over. */
  private unexpected(what: string, from: SocketKind): void {
    console.warn(`pixel playground: ${what} on the ${from} socket, unexpected; reconnecting`);
    this.connection.reconnect("unexpected hello");
  }

  /**
   * The limits in force now (after every hello, whenever an admin changes them, and to a banned or
   * unbanned identity's sockets): the budget follows them without a refill (TokenBucket.configure),
   * the view shows the frozen and banned states, and queued pixels go (or, blocked, are dropped).
   */
  private onLimits(limits: Limits): void {
    const now = performance.now();
    const rate = { pixelsPerSecond: limits.pixelsPerSecond, burst: limits.burst };
    this.liveRate = rate;
    if (this.bucket) this.bucket.configure(rate, now);
    else this.bucket = new TokenBucket(rate, now);
    const before = this.blocked;
    const after = { frozen: limits.frozen, banned: limits.banned };
    if (after.frozen !== before.frozen || after.banned !== before.banned) {
      this.blocked = after;
      this.view.moderation(after);
      const lifted = liftedMessage(before, after);
      if (lifted) this.view.message(lifted, "info");
    }
    this.flush();
  }

  private onError(error: ErrorFrame): void {
    // Roll the refused placement back at once: the page never shows a pixel nobody else sees.
    const withdrawn = error.nonce !== 0 ? this.state?.withdraw(error.nonce) : undefined;
    if (withdrawn) {
      this.unconfirmed.delete(error.nonce);
      this.changed();
    }
    const what = !withdrawn ? "" : withdrawn.pixels.length === 1 ? "pixel" : `${withdrawn.pixels.length} pixels`;
    const name = ERROR_NAMES[error.code];
    const queued = this.fromQueue.delete(error.nonce);
    if (error.code === ErrorCode.RateLimited) {
      const now = performance.now();
      this.bucket?.penalize(error.retryAfterMs, now);
      if (withdrawn && queued) {
        // Queued pixels are the page's to deliver: back in the queue, sent when the budget allows.
        const dropped = this.queue.requeue(withdrawn.pixels.map((pixel) => ({ pixel, at: withdrawn.placedAt })));
        if (dropped.length > 0) this.dropped(dropped.length, "the queue is full");
        this.changed();
        this.flush();
        return;
      }
      const wait = error.retryAfterMs > 0 ? `next pixel in ${seconds(error.retryAfterMs)}` : "try again";
      const undone = what ? `the server refused the ${what} and it was taken back` : "the server refused a placement";
      this.view.message(`Rate limited: ${undone}; ${wait}.`, "error");
      this.flush();
    } else if (error.code === ErrorCode.Frozen) {
      const undone = what ? `the ${what} was taken back` : "nothing was placed";
      this.view.message(
        `The canvas is frozen: ${undone}. You can watch; drawing is back once it is unfrozen.`,
        "error",
      );
    } else if (error.code === ErrorCode.Banned) {
      const undone = what ? `; the ${what} was taken back` : "";
      this.view.message(`You can watch but not draw: this browser is banned from drawing${undone}.`, "error");
    } else if (error.code === ErrorCode.VersionMismatch) {
      this.fail(name);
    } else if (FATAL_ERRORS.has(error.code)) {
      // The server closes the socket next; the close handler reconnects.
      this.view.message(`Connection error (${name}): ${error.message}`, "error");
    } else {
      const undone = what ? `; the ${what} was taken back` : "";
      this.view.message(`Rejected (${name}): ${error.message}${undone}`, "error");
    }
  }

  private onClose(close: CloseInfo): "retry" | "stop" {
    this.helloOnSocket = false;
    this.liveSeq = undefined;
    this.state?.connectionLost();
    // Placements still waiting for the server's answer died with the connection, or were applied just
    // before it closed: the live socket's replay after the reconnect tells which (resolveUnconfirmed).
    for (const nonce of this.state?.pendingNonces() ?? []) this.unconfirmed.add(nonce);
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    // Fatal errors close with 4000 + code and the error's name as the reason [P9].
    if (close.code >= 4000 && close.code <= 4999) {
      const name = close.reason || errorName(close.code - 4000) || `code ${close.code}`;
      if (name === VERSION_MISMATCH) {
        this.fail(name);
        return "stop";
      }
      this.view.message(`The server closed the connection (${name}); reconnecting.`, "error");
    }
    return "retry";
  }

  // -------------------------------------------------------------------------------------------------
  // Snapshot and catch-up

  /**
   * Asks the edge socket for the frames the page lacks. Not before the live socket's hello: until
   * then its replay is on the way, and it brings every frame after `liveFrom` anyway.
   */
  private requestCatchUp(): void {
    const state = this.state;
    if (!state || this.liveSeq === undefined) return;
    const fromSeq = state.takeCatchUp(performance.now());
    if (fromSeq !== undefined) this.connection.send(encodeCatchUp(fromSeq));
  }

  /** Fetches and applies the snapshot unless the state is synced or a fetch is already under way. */
  private loadSnapshot(): void {
    const state = this.state;
    if (!state || state.synced || this.snapshotInFlight || this.snapshotTimer !== undefined) return;
    this.snapshotInFlight = true;
    void this.fetchSnapshot(state).then((result) => {
      this.snapshotInFlight = false;
      if (state !== this.state) {
        // The canvas was replaced while this one loaded: load the new one's.
        this.snapshotAttempt = 0;
        this.loadSnapshot();
        return;
      }
      if (result === "applied") {
        this.snapshotAttempt = 0;
        this.changed();
        this.requestCatchUp();
        this.refreshStatus();
        this.resolveUnconfirmed();
        return;
      }
      // "stale" (older than the page after a resync), "mismatch" or a failed fetch: try again later.
      const delay = SNAPSHOT_RETRY_MS + backoffDelay(this.snapshotAttempt++);
      this.snapshotTimer = setTimeout(() => {
        this.snapshotTimer = undefined;
        this.loadSnapshot();
      }, delay);
    });
  }

  private async fetchSnapshot(state: CanvasState): Promise<SnapshotResult | "failed"> {
    try {
      // no-store keeps the browser's own cache out of it; the edge cache is fine (the seq makes it safe).
      const response = await fetch(this.snapshotUrl, { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = new Uint8Array(await response.arrayBuffer());
      const decoded = await decodeSnapshotBody(body, state.paletteSize);
      if (!decoded.ok) throw new Error(decoded.error.message);
      const result = state.applySnapshot(decoded.value);
      if (result === "mismatch") console.warn("pixel playground: the snapshot has another shape than the canvas");
      return result;
    } catch (error) {
      console.warn(`pixel playground: snapshot failed: ${error instanceof Error ? error.message : String(error)}`);
      return "failed";
    }
  }

  private cancelSnapshotRetry(): void {
    if (this.snapshotTimer !== undefined) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = undefined;
    this.snapshotAttempt = 0;
  }

  private tick(): void {
    const wall = Date.now();
    const mono = performance.now();
    const slept = wall - this.clocks.wall - (mono - this.clocks.mono) > SLEEP_GAP_MS;
    this.clocks = { wall, mono };
    if (slept) {
      // The sockets may look open but be dead: let them go and resume from the sequence the page holds.
      this.connection.reconnect("woke from sleep");
      return;
    }
    const state = this.state;
    if (!state) return;
    // A placement unanswered on an open connection (it should not happen) must not stay on screen forever.
    if (this.liveSeq !== undefined && this.unconfirmed.size === 0) {
      const expired = state.expirePending(mono);
      if (expired > 0) {
        this.view.message("The server never answered a placement; it was taken back.", "error");
        this.changed();
      }
    }
    this.expireOutbox(mono);
    this.requestCatchUp();
    this.resolveUnconfirmed();
    // Settled placements leave the set of those sent from the queue.
    for (const nonce of this.fromQueue) if (state.placedAt(nonce) === undefined) this.fromQueue.delete(nonce);
    this.flush();
  }

  // -------------------------------------------------------------------------------------------------
  // Status

  private fail(name: string): void {
    if (this.failure) return;
    this.failure = name;
    this.connection.stop();
    this.view.message(
      name === VERSION_MISMATCH
        ? "This page is out of date (version_mismatch): reload it to get the new version."
        : `Stopped (${name}): reload the page to try again.`,
      "error",
    );
    this.refreshStatus();
  }

  private refreshStatus(): void {
    const [status, text] = this.describeStatus();
    if (status === "connected") this.everConnected = true;
    if (status === this.currentStatus && text === this.statusText) return;
    const becameConnected = status === "connected" && this.currentStatus !== "connected";
    this.currentStatus = status;
    this.statusText = text;
    this.view.status(status, text);
    if (becameConnected) {
      this.resolveUnconfirmed();
      this.flush();
    }
  }

  private describeStatus(): [Status, string] {
    if (this.failure) return ["failed", `stopped (${this.failure}): reload the page`];
    const link = this.connection.state;
    if (link === "offline") return ["offline", "offline: waiting for the network"];
    if (link === "open" && this.helloOnSocket && this.state?.hasData) return ["connected", "connected"];
    const status = this.everConnected || link === "waiting" ? "reconnecting" : "connecting";
    if (link === "open" && this.helloOnSocket) return [status, "loading the canvas…"];
    return [status, `${status}…`];
  }

  private bounds(): CanvasBounds | undefined {
    const hello = this.lastHello;
    return hello && { width: hello.width, height: hello.height, paletteSize: hello.palette.length };
  }
}

/** Why a click placed nothing, for "Not placed: …" (banned first: it outlasts a freeze). */
function notPlaced({ frozen, banned }: Moderation): string {
  if (banned && frozen) return "the canvas is frozen, and this browser may watch but not draw.";
  if (banned) return "this browser may watch but not draw (it is banned from drawing).";
  return "the canvas is frozen. You can watch; drawing is back once it is unfrozen.";
}

/** What to say when a freeze or a ban is lifted, and whether the other still holds. */
function liftedMessage(before: Moderation, after: Moderation): string | undefined {
  const unfrozen = before.frozen && !after.frozen;
  const unbanned = before.banned && !after.banned;
  if (!unfrozen && !unbanned) return undefined;
  if (after.banned) return "The canvas is no longer frozen, but this browser may still not draw.";
  if (after.frozen) return "This browser may draw again once the canvas is unfrozen.";
  if (unbanned && unfrozen) return "The canvas is no longer frozen and this browser may draw again.";
  return unbanned ? "This browser may draw again." : "The canvas is no longer frozen: you can draw again.";
}

function sameCanvas(a: ServerHello, b: ServerHello): boolean {
  return (
    a.width === b.width &&
    a.height === b.height &&
    a.palette.length === b.palette.length &&
    a.palette.every((colour, i) => colour === b.palette[i])
  );
}

/** The name of an error code, if it is one. */
function errorName(code: number): string | undefined {
  for (const known of Object.values(ErrorCode)) if (known === code) return ERROR_NAMES[known];
  return undefined;
}

function seconds(ms: number): string {
  if (!Number.isFinite(ms)) return "a while";
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}
