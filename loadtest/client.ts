/**
 * @module client
 * One simulated user for the load test: a real protocol client over the `ws` package, speaking
 * worker/protocol.ts exactly as the page does — hello on the edge socket, then the live socket from
 * the hello's sequence [P19], apply frames in sequence order, catch up on a gap, resume after a
 * reconnect (the live socket from the last applied sequence), refetch the snapshot when told to
 * resync — and recording what it saw for the report: every test pixel it received (with latency from
 * its send time), presence frames, errors, and the timing of every reconnect attempt.
 */
import WebSocket from "ws";
import { backoffDelay } from "../web/pacing.ts";
import {
  type CanvasBounds,
  type Decoded,
  decodeServerMessage,
  decodeSnapshot,
  ErrorCode,
  encodeCatchUp,
  encodeClientHello,
  encodePlace,
  gunzip,
  type LiveHello,
  Op,
  type PixelsFrame,
  type Presence,
  type ServerHello,
  type ServerMessage,
  type Snapshot,
} from "../worker/protocol.ts";

/** What the whole run knows about the pixels it placed; shared by every client (one process). */
export interface Ledger {
  width: number;
  /** Send time (performance.now()) of each placement by index; NaN until sent. */
  sentAt: Float64Array;
  /** Which client sent each placement; -1 until sent. */
  sender: Int32Array;
  /** 1 when the server rejected the placement. */
  rejected: Uint8Array;
  /** 1 once any client has seen the placement broadcast. */
  seen: Uint8Array;
  /** Index (in the run's target list) of the edge the placement was sent through. */
  via: Uint8Array;
  /**
   * 1 when the socket the placement was sent on closed before anyone had seen it broadcast: it was in
   * flight when a fault struck, never acknowledged. If it is then missing from the canvas it is "lost
   * in flight" (a page would roll it back), not a lost pixel.
   */
  orphaned: Uint8Array;
  /** Number of placements (indices) allotted. */
  size: number;
}

export function newLedger(width: number, capacity: number): Ledger {
  return {
    width,
    sentAt: new Float64Array(capacity).fill(Number.NaN),
    sender: new Int32Array(capacity).fill(-1),
    rejected: new Uint8Array(capacity),
    seen: new Uint8Array(capacity),
    via: new Uint8Array(capacity),
    orphaned: new Uint8Array(capacity),
    size: capacity,
  };
}

/** Placement `index` is a unique coordinate with a colour that is never the empty canvas's 0. */
export function pixelOf(index: number, width: number, paletteSize: number) {
  return { x: index % width, y: Math.floor(index / width), colour: 1 + (index % (paletteSize - 1)) };
}

export interface Target {
  name: string;
  wsUrl: string;
  /**
   * The live socket's URL [P19] (`liveUrlOf(wsUrl)` for this project). Without one the client takes
   * the broadcast on its one socket, as the benchmark's baseline serves it.
   */
  liveUrl?: string;
  alive: boolean;
}

/** ws(s)://host/ws/live for ws(s)://host/ws. */
export function liveUrlOf(wsUrl: string): string {
  return `${wsUrl.replace(/\/$/, "")}/live`;
}

export interface ClientEvents {
  /** A latency sample: a pixel this client did not send, seen `ms` after it was sent. */
  latency(region: string, ms: number): void;
  /** A reconnect attempt started at `at` (Date.now()), before its outcome is known. */
  reconnectAttempt?(at: number): void;
}

/**
 * Reconnect pacing: capped exponential backoff with full jitter (web/pacing.ts, the page's own
 * formula), and a bound in time rather than in attempts — a restarting canvas takes seconds, and a
 * count of attempts says little about how long that is once the delays are capped.
 */
export interface Backoff {
  baseMs: number;
  capMs: number;
  /** Stop trying this long after the socket dropped (the client then counts as given up). */
  giveUpAfterMs: number;
}

/** The load test's historical pacing: quick retries, for an edge that died while others live. */
export const QUICK_BACKOFF: Backoff = { baseMs: 100, capMs: 2000, giveUpAfterMs: 60_000 };

/** http(s)://host for a ws(s)://host/ws URL. */
export function httpUrlOf(wsUrl: string): string {
  return wsUrl
    .replace(/^ws/, "http")
    .replace(/\/ws\/?$/, "")
    .replace(/\/$/, "");
}

/** True when the server answered the upgrade with an HTTP status (it is alive, but refused for now). */
function refusedByServer(error: unknown): boolean {
  return error instanceof Error && /Unexpected server response/.test(error.message);
}

/**
 * Opens a socket and waits for its first frame, which must be the hello `isHello` accepts; later
 * frames go to `onMessage`, whose listener is attached before the hello arrives, so none is missed.
 */
function openGreeted<H extends ServerMessage>(
  url: string,
  isHello: (m: ServerMessage) => m is H,
  what: string,
  timeoutMs: number,
  onMessage?: (data: ArrayBuffer) => void,
): Promise<{ ws: WebSocket; hello: H }> {
  return new Promise((resolve, reject) => {
    // No permessage-deflate: inflating every frame made the load generator the bottleneck.
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, perMessageDeflate: false });
    ws.binaryType = "arraybuffer";
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no ${what} in time`));
    }, timeoutMs);
    ws.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    let greeted = false;
    ws.on("message", (data: ArrayBuffer) => {
      if (greeted) {
        onMessage?.(data);
        return;
      }
      greeted = true;
      clearTimeout(timer);
      const m = decodeServerMessage(data);
      if (!m.ok || !isHello(m.value)) {
        ws.terminate();
        reject(new Error(m.ok ? `first frame was not a ${what}` : m.error.message));
        return;
      }
      resolve({ ws, hello: m.value });
    });
  });
}

/** Opens a socket and waits for the server hello (the caller sends the client hello). */
export function openSocket(wsUrl: string, timeoutMs = 10_000): Promise<{ ws: WebSocket; hello: ServerHello }> {
  return openGreeted(wsUrl, (m): m is ServerHello => m.op === Op.ServerHello, "hello", timeoutMs);
}

/**
 * Opens a live socket [P19] (from `from`, or from now when undefined) and waits for its LiveHello.
 * The frames after it are the caller's: the first listener is attached before this resolves.
 */
export async function openLiveSocket(
  liveUrl: string,
  from: number | undefined,
  onMessage: (data: ArrayBuffer) => void,
  timeoutMs = 10_000,
): Promise<{ ws: WebSocket; seq: number }> {
  const url = from === undefined ? liveUrl : `${liveUrl}?from=${from}`;
  const isLiveHello = (m: ServerMessage): m is LiveHello => m.op === Op.LiveHello;
  const { ws, hello } = await openGreeted(url, isLiveHello, "live hello", timeoutMs, onMessage);
  return { ws, seq: hello.seq };
}

/** Opens a socket, reads the server hello, and closes: which region and isolate serve this URL. */
export async function whoServes(wsUrl: string): Promise<{ region: string; isolateId: string }> {
  const { ws, hello } = await openSocket(wsUrl);
  ws.send(encodeClientHello());
  ws.close();
  return { region: hello.region, isolateId: hello.isolateId };
}

/** GET /api/canvas, gunzipped and decoded [P10]; with its sizes, for the benchmarks. */
export async function fetchSnapshot(
  httpUrl: string,
  paletteSize: number,
): Promise<{ decoded: Decoded<Snapshot>; gzipBytes: number; rawBytes: number }> {
  const res = await fetch(`${httpUrl}/api/canvas`);
  const gz = new Uint8Array(await res.arrayBuffer());
  const raw = await gunzip(gz);
  return { decoded: decodeSnapshot(raw, paletteSize), gzipBytes: gz.length, rawBytes: raw.length };
}

export class LoadClient {
  ws: WebSocket | undefined;
  /** The live socket [P19], when the target has one. */
  live: WebSocket | undefined;
  hello: ServerHello | undefined;
  /** The region and isolate serving the current socket (from its hello). */
  region = "";
  isolateId = "";
  /** Highest sequence applied in order. */
  seq = 0;
  /** Test pixels this client has seen (deduplicated by sequence: a frame is applied once). */
  received = 0;
  /** Rejected placements this client saw broadcast (must stay 0). */
  phantom = 0;
  frames = 0;
  bytes = 0;
  lastPresence: Presence | undefined;
  disconnects = 0;
  reconnects = 0;
  protocolErrors = 0;
  /** Resync frames answered by refetching the snapshot. */
  resyncs = 0;
  /** `canvas_unavailable` errors: the edge lost its channel (the canvas restarted); a reconnect follows. */
  canvasUnavailable = 0;
  /** True once reconnecting took longer than the backoff's bound and the client stopped trying. */
  gaveUp = false;
  /** Date.now() of the last successful (re)connect, and of the moment after it when seq reached the hello's. */
  connectedAt = 0;
  caughtUpAt: number | undefined;
  /** Reconnect pacing; QUICK_BACKOFF unless the run sets another. */
  backoff: Backoff = QUICK_BACKOFF;
  /** Own placements not yet seen broadcast: orphaned if this socket closes first. */
  private inFlight = new Set<number>();
  private resyncing = false;
  /** Set when the client is closed on purpose; no reconnect then. */
  private stopped = false;
  private held = new Map<number, PixelsFrame>();
  /** Light clients: pixel counts of frames held for a gap, by sequence. */
  private heldCounts = new Map<number, number>();
  private catchUpAsked = false;
  private nonce = 1;
  private bounds: CanvasBounds | undefined;

  constructor(
    readonly id: number,
    private target: Target,
    private readonly targets: readonly Target[],
    private ledger: Ledger,
    private readonly events: ClientEvents,
    /**
     * A light client reads only the sequence and pixel count of each Pixels frame (no decoding, no
     * latency): enough to check delivery at rates where decoding every frame in every client would
     * make the load generator the bottleneck. Delivery then counts every pixel broadcast, so the run
     * must be the only one placing pixels.
     */
    private readonly light = false,
  ) {}

  /** Starts counting against another ledger (the benchmark uses a fresh one per rate step). */
  useLedger(ledger: Ledger): void {
    this.ledger = ledger;
    this.received = 0;
    this.phantom = 0;
  }

  get connected(): boolean {
    const liveOpen = this.target.liveUrl === undefined || this.live?.readyState === WebSocket.OPEN;
    return this.ws?.readyState === WebSocket.OPEN && liveOpen && this.hello !== undefined;
  }

  get targetName(): string {
    return this.target.name;
  }

  /** Connects (or reconnects, resuming from the last applied sequence). */
  async connect(timeoutMs = 10_000): Promise<void> {
    const { ws, hello } = await openSocket(this.target.wsUrl, timeoutMs);
    if (this.stopped) {
      // Closed while the socket was still opening: close it now, or it would stay open uncounted.
      ws.close(1000, "done");
      return;
    }
    const resuming = this.hello !== undefined;
    const liveUrl = this.target.liveUrl;
    // A first connection joins at the hello's sequence, a resumed one at its last applied frame: the
    // live socket replays every frame after it [P19]. Without a live socket the edge socket carries
    // the broadcast, and a resumed hello asks it for what was missed.
    const joinAt = resuming ? this.seq : hello.seq;
    // Set before the live socket opens: its replay can arrive in the same read as its hello.
    this.hello = hello;
    this.bounds = { width: hello.width, height: hello.height, paletteSize: hello.palette.length };
    this.region = hello.region;
    this.isolateId = hello.isolateId;
    if (!resuming) this.seq = hello.seq;
    ws.send(encodeClientHello(resuming && liveUrl === undefined ? this.seq : 0));
    ws.on("message", (data: ArrayBuffer) => this.onMessage(data));
    ws.on("error", () => {});
    let live: WebSocket | undefined;
    if (liveUrl !== undefined) {
      try {
        live = (await openLiveSocket(liveUrl, joinAt, (data) => this.onMessage(data), timeoutMs)).ws;
      } catch (error) {
        ws.close(1000, "no live socket");
        throw error;
      }
      live.on("error", () => {});
      if (this.stopped) {
        ws.close(1000, "done");
        live.close(1000, "done");
        return;
      }
    }
    this.ws = ws;
    this.live = live;
    this.catchUpAsked = resuming && liveUrl === undefined;
    this.connectedAt = Date.now();
    this.caughtUpAt = undefined;
    this.noteCaughtUp();
    // Either socket closing ends the connection: the other is closed, and the client reconnects both.
    const ended = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.live = undefined;
      ws.close(1000, "reconnecting");
      live?.close(1000, "reconnecting");
      this.onClose();
    };
    ws.on("close", ended);
    live?.on("close", ended);
  }

  private onMessage(data: ArrayBuffer): void {
    this.frames += 1;
    this.bytes += data.byteLength;
    if (this.light && data.byteLength >= 7) {
      const view = new DataView(data);
      if (view.getUint8(0) === Op.Pixels) {
        this.onPixelCount(view.getUint32(1), view.getUint16(5));
        return;
      }
    }
    const m = decodeServerMessage(data, this.bounds);
    if (!m.ok) {
      this.protocolErrors += 1;
      return;
    }
    const msg = m.value;
    switch (msg.op) {
      case Op.Pixels:
        this.onPixels(msg);
        break;
      case Op.Presence:
        this.lastPresence = msg;
        break;
      case Op.Error:
        if (msg.nonce !== 0) {
          // Nonces are placement indices + 1 (see place()).
          const index = msg.nonce - 1;
          if (index < this.ledger.size) this.ledger.rejected[index] = 1;
          this.inFlight.delete(index);
        } else if (msg.code === ErrorCode.Unavailable) {
          // The edge lost its channel to the canvas and closes this socket next; expected in a restart.
          this.canvasUnavailable += 1;
        } else this.protocolErrors += 1;
        break;
      case Op.Resync:
        // Too far behind for the ring (after a restart, say): refetch the snapshot and rejoin at it.
        void this.resync(msg.seq);
        break;
      default:
        break;
    }
  }

  private onPixels(frame: PixelsFrame): void {
    if (frame.seq <= this.seq) return; // a replay of something already applied
    this.held.set(frame.seq, frame);
    if (frame.seq > this.seq + 1 && !this.catchUpAsked) {
      this.catchUpAsked = true;
      this.ws?.send(encodeCatchUp(this.seq));
    }
    this.drainHeld();
  }

  /** Applies held frames while they continue the sequence. */
  private drainHeld(): void {
    for (let next = this.held.get(this.seq + 1); next; next = this.held.get(this.seq + 1)) {
      this.held.delete(next.seq);
      this.seq = next.seq;
      this.catchUpAsked = false;
      this.apply(next);
    }
    for (let next = this.heldCounts.get(this.seq + 1); next !== undefined; next = this.heldCounts.get(this.seq + 1)) {
      this.heldCounts.delete(this.seq + 1);
      this.seq += 1;
      this.catchUpAsked = false;
      this.received += next;
    }
    this.noteCaughtUp();
  }

  private noteCaughtUp(): void {
    if (this.caughtUpAt === undefined && this.hello && this.seq >= this.hello.seq) this.caughtUpAt = Date.now();
  }

  /**
   * Resync [P8]: the server no longer holds the frames after this client's sequence. Fetch the
   * snapshot (over HTTP, from the edge this client uses; waiting out the edge cache until it reaches
   * the server's sequence), take its sequence as the client's, count the test pixels it holds as
   * received — each test pixel is a distinct position, so the snapshot at S holds exactly those
   * broadcast up to S — and catch up from there on the same socket.
   */
  private async resync(serverSeq: number): Promise<void> {
    if (this.resyncing) return;
    this.resyncing = true;
    try {
      const paletteSize = this.hello?.palette.length ?? 32;
      const deadline = Date.now() + 10_000;
      let snapshot: Snapshot | undefined;
      for (;;) {
        const { decoded } = await fetchSnapshot(httpUrlOf(this.target.wsUrl), paletteSize);
        if (decoded.ok && (decoded.value.seq >= serverSeq || Date.now() > deadline)) {
          snapshot = decoded.value;
          break;
        }
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      if (!snapshot || this.stopped) {
        if (!snapshot) this.protocolErrors += 1;
        return;
      }
      this.resyncs += 1;
      if (snapshot.seq > this.seq) {
        const { width, sentAt, rejected, seen, size } = this.ledger;
        let inSnapshot = 0;
        for (let i = 0; i < size; i++) {
          if (Number.isNaN(sentAt[i] ?? Number.NaN) || rejected[i]) continue;
          const p = pixelOf(i, width, paletteSize);
          if (snapshot.pixels[p.y * width + p.x] !== p.colour) continue;
          inSnapshot += 1;
          seen[i] = 1;
        }
        this.received = inSnapshot;
        this.seq = snapshot.seq;
        for (const s of this.held.keys()) if (s <= this.seq) this.held.delete(s);
        for (const s of this.heldCounts.keys()) if (s <= this.seq) this.heldCounts.delete(s);
      }
      this.catchUpAsked = true;
      this.ws?.send(encodeCatchUp(this.seq));
      this.drainHeld();
    } catch {
      this.protocolErrors += 1;
    } finally {
      this.resyncing = false;
    }
  }

  private onPixelCount(seq: number, count: number): void {
    if (seq <= this.seq) return;
    this.heldCounts.set(seq, count);
    if (seq > this.seq + 1 && !this.catchUpAsked) {
      this.catchUpAsked = true;
      this.ws?.send(encodeCatchUp(this.seq));
    }
    this.drainHeld();
  }

  private apply(frame: PixelsFrame): void {
    const now = performance.now();
    const { width, sentAt, sender, rejected, seen, size } = this.ledger;
    for (const p of frame.pixels) {
      const index = p.y * width + p.x;
      if (index >= size || Number.isNaN(sentAt[index] ?? Number.NaN)) continue; // not a test pixel
      if (rejected[index]) {
        this.phantom += 1;
        continue;
      }
      this.received += 1;
      seen[index] = 1;
      if (sender[index] === this.id) this.inFlight.delete(index);
      if (sender[index] !== this.id) this.events.latency(this.region, now - (sentAt[index] ?? now));
    }
  }

  /** Places test pixel `index` (one pixel per Place frame, as a person clicking does). */
  place(index: number): boolean {
    if (!this.connected || !this.hello) return false;
    const pixel = pixelOf(index, this.hello.width, this.hello.palette.length);
    this.ledger.sentAt[index] = performance.now();
    this.ledger.sender[index] = this.id;
    this.ledger.via[index] = Math.max(0, this.targets.indexOf(this.target));
    this.nonce = index + 1;
    this.ws?.send(encodePlace(this.nonce, [pixel]));
    if (!this.light) this.inFlight.add(index);
    return true;
  }

  private onClose(): void {
    if (this.stopped) return;
    this.disconnects += 1;
    // What this socket carried and nobody has seen yet was in flight when it dropped.
    for (const index of this.inFlight) if (!this.ledger.seen[index]) this.ledger.orphaned[index] = 1;
    this.inFlight.clear();
    void this.reconnect();
  }

  /**
   * Reconnects with jittered backoff until `backoff.giveUpAfterMs` has passed. A target that does not
   * answer at all is marked dead and the client moves to the next live one; one that answers with an
   * HTTP status (503 while the canvas restarts) is alive, and the client stays with it.
   */
  private async reconnect(): Promise<void> {
    const { baseMs, capMs, giveUpAfterMs } = this.backoff;
    const giveUpAt = Date.now() + giveUpAfterMs;
    for (let attempt = 0; !this.stopped; attempt++) {
      const delay = backoffDelay(attempt, Math.random, baseMs, capMs);
      if (Date.now() + delay > giveUpAt) break;
      await new Promise((r) => setTimeout(r, delay));
      if (this.stopped) return;
      this.events.reconnectAttempt?.(Date.now());
      try {
        await this.connect(5000);
        this.reconnects += 1;
        this.target.alive = true;
        return;
      } catch (error) {
        if (refusedByServer(error)) continue;
        this.target.alive = false;
        const alive = this.targets.filter((t) => t.alive);
        const next = alive[(this.id + attempt) % Math.max(1, alive.length)];
        if (next) this.target = next;
      }
    }
    if (!this.stopped) this.gaveUp = true;
  }

  close(): void {
    this.stopped = true;
    this.ws?.close(1000, "done");
    this.live?.close(1000, "done");
  }
}
