/**
 * @module session
 * What the page and the server say to each other, between the socket (connection.ts) and the model
 * (client-state.ts): the hello, the snapshot fetched to join, frames applied or caught up, placements
 * sent and rolled back, presence, errors and close reasons. It owns no DOM; it tells a `SessionView`
 * what changed, so the page's look can grow without touching the protocol logic.
 */

import type { CanvasBounds, ErrorFrame, Presence, ServerHello } from "../worker/protocol.ts";
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
import { type CloseInfo, Connection } from "./connection.ts";
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
}

export type PlaceOutcome = "sent" | "not_connected" | "rate_limited" | "outside";

export interface Budget {
  available: number;
  burst: number;
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

export class Session {
  private readonly connection: Connection;
  private state: CanvasState | undefined;
  private lastHello: ServerHello | undefined;
  /** The current socket has received its hello, so frames can be decoded against its canvas. */
  private helloOnSocket = false;
  /** The resumeSeq sent in the current socket's hello. */
  private resumeSent = 0;
  private everConnected = false;
  private failure: string | undefined;
  private bucket: TokenBucket | undefined;
  private nonce = 0;
  private snapshotInFlight = false;
  private snapshotTimer: ReturnType<typeof setTimeout> | undefined;
  private snapshotAttempt = 0;
  private currentStatus: Status = "connecting";
  private statusText = "";

  constructor(
    socketUrl: string,
    private readonly snapshotUrl: string,
    private readonly view: SessionView,
  ) {
    this.connection = new Connection(socketUrl, {
      hello: () => this.clientHello(),
      message: (data) => this.onMessage(data),
      closed: (close) => this.onClose(close),
      link: () => this.refreshStatus(),
    });
  }

  start(): void {
    this.refreshStatus();
    this.connection.start();
    setInterval(() => this.tick(), TICK_MS);
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

  budget(now: number): Budget | undefined {
    const bucket = this.bucket;
    if (!bucket || bucket.unlimited) return undefined;
    return { available: bucket.available(now), burst: bucket.burst, msUntilNext: bucket.msUntil(1, now) };
  }

  /**
   * Places one pixel: sends it and shows it at once as pending. The client-side budget holds back a
   * click the server would reject anyway; the server's answer (a broadcast or an error) settles it.
   */
  place(x: number, y: number, colour: number): PlaceOutcome {
    const state = this.state;
    const bucket = this.bucket;
    if (this.currentStatus !== "connected" || !state || !bucket) {
      this.view.message("Not connected yet: the pixel was not placed.", "info");
      return "not_connected";
    }
    if (state.colourAt(x, y) === undefined || !Number.isInteger(colour) || colour < 0 || colour >= state.paletteSize) {
      return "outside";
    }
    const now = performance.now();
    if (!bucket.tryTake(1, now)) {
      this.view.message(`Rate limited: next pixel in ${seconds(bucket.msUntil(1, now))}.`, "error");
      return "rate_limited";
    }
    // Nonces run 1…2³²−1: 0 means "no particular frame" in Error frames.
    this.nonce = (this.nonce % 0xffffffff) + 1;
    const pixels = [{ x, y, colour }];
    if (!this.connection.send(encodePlace(this.nonce, pixels))) return "not_connected";
    state.addPending(this.nonce, pixels, now);
    this.view.pixels();
    return "sent";
  }

  // -------------------------------------------------------------------------------------------------
  // Socket events

  private clientHello(): Uint8Array {
    this.helloOnSocket = false;
    // Resume only from a sequence the page really holds; while it waits for a snapshot it asks for nothing.
    this.resumeSent = this.state?.synced ? this.state.seq : 0;
    return encodeClientHello(this.resumeSent);
  }

  private onMessage(data: ArrayBuffer): void {
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
        this.onHello(message);
        return;
      case Op.Pixels: {
        const state = this.state;
        if (!state) return;
        if (state.applyFrame(message) === "applied") this.view.pixels();
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
      state = new CanvasState(hello.width, hello.height, hello.palette.length);
      this.state = state;
      this.cancelSnapshotRetry();
      this.view.canvas(state, hello);
    }
    state.serverAt(hello.seq);
    if (!fresh && this.resumeSent > 0) state.resumed(now);
    this.lastHello = hello;
    this.helloOnSocket = true;
    if (this.bucket) this.bucket.configure(hello.rateLimit, now);
    else this.bucket = new TokenBucket(hello.rateLimit, now);
    this.view.hello(hello);
    if (state.synced) this.requestCatchUp();
    else this.loadSnapshot();
    this.refreshStatus();
  }

  private onError(error: ErrorFrame): void {
    if (error.nonce !== 0 && this.state?.reject(error.nonce)) this.view.pixels();
    const name = ERROR_NAMES[error.code];
    if (error.code === ErrorCode.RateLimited) {
      this.bucket?.penalize(error.retryAfterMs, performance.now());
      const wait = error.retryAfterMs > 0 ? `next pixel in ${seconds(error.retryAfterMs)}` : "try again";
      this.view.message(`Rate limited: ${wait}.`, "error");
    } else if (error.code === ErrorCode.VersionMismatch) {
      this.fail(name);
    } else if (FATAL_ERRORS.has(error.code)) {
      // The server closes the socket next; the close handler reconnects.
      this.view.message(`Connection error (${name}): ${error.message}`, "error");
    } else {
      this.view.message(`Rejected (${name}): ${error.message}`, "error");
    }
  }

  private onClose(close: CloseInfo): "retry" | "stop" {
    this.helloOnSocket = false;
    this.state?.connectionLost();
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

  private requestCatchUp(): void {
    const state = this.state;
    if (!state || !this.helloOnSocket) return;
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
        this.view.pixels();
        this.requestCatchUp();
        this.refreshStatus();
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
    const state = this.state;
    if (!state) return;
    if (state.expirePending(performance.now()) > 0) this.view.pixels();
    this.requestCatchUp();
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
    this.currentStatus = status;
    this.statusText = text;
    this.view.status(status, text);
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
