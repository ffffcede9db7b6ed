/**
 * @module session
 * One client connection at the edge: the client's WebSocket, its channel to the Canvas Durable
 * Object, and everything between them.
 *
 * Both sockets are created while handling the client's upgrade request, so both belong to that
 * request's context; that is what lets events on one write to the other (workerd refuses I/O on
 * behalf of a different request, so an isolate cannot share one upstream among its clients).
 *
 * Client → canvas: every frame is decoded and validated here, metered by two token buckets (frames per
 * socket, pixels per identity in this isolate — a pre-check; the canvas's buckets are authoritative),
 * and re-encoded; a client's bytes never reach the canvas as they were sent. Canvas → client: frames
 * pass through untouched — the hub encodes each broadcast once for everyone, and the edge adds no work
 * per frame beyond the send (and a look at the first byte, to follow the live limits).
 */
import type { EdgeConfig } from "../config.ts";
import {
  type CanvasInfo,
  closeCodeFor,
  decodeCanvasInfo,
  decodeClientMessage,
  decodeServerMessage,
  ERROR_NAMES,
  ErrorCode,
  encodeCatchUp,
  encodeError,
  encodePlaceBatch,
  encodePresenceReport,
  encodeServerHello,
  FATAL_ERRORS,
  MAX_PLACE_PIXELS,
  Op,
  type Pixel,
  placeNonce,
} from "../protocol.ts";
import { TokenBucket } from "../token-bucket.ts";
import type { FanIn } from "./fan-in.ts";
import { acquireIdentityBucket, releaseIdentityBucket } from "./isolate.ts";
import type { IsolatePresence } from "./presence.ts";

/** How long the canvas may take to greet a new channel before the upgrade fails. */
const CHANNEL_TIMEOUT_MS = 5000;

export interface SessionIdentity {
  isolateId: string;
  region: string;
  /** The client's signed identity and its network (identity.ts). */
  identity: string;
  network: string;
  /** This session's number in its isolate: PlaceBatch entries name their channel by it. */
  session: number;
}

/** What a session shares with the other sessions of its isolate: plain data only. */
export interface IsolateShared {
  presence: IsolatePresence;
  fanIn: FanIn;
}

export class ChannelError extends Error {}

/** The canvas refused the channel (a socket cap); the message is for the client. */
export class ChannelRefused extends Error {}

/** The message of the canvas's 429 refusal of a socket (a socket cap), for the client. */
export async function refusalMessage(response: Response): Promise<string> {
  const body: unknown = await response.json().catch(() => undefined);
  const message = typeof body === "object" && body !== null ? Reflect.get(body, "message") : undefined;
  return typeof message === "string" ? message : "too many sockets";
}

/**
 * Opens a channel to the canvas and waits for its CanvasInfo. Resolves with the accepted upstream
 * socket and the canvas's shape; rejects with ChannelError if the canvas does not answer.
 */
export async function openChannel(
  canvas: DurableObjectStub,
  who: SessionIdentity,
): Promise<{ upstream: WebSocket; info: CanvasInfo }> {
  const url = new URL("https://canvas/channel");
  url.searchParams.set("isolate", who.isolateId);
  url.searchParams.set("region", who.region);
  url.searchParams.set("identity", who.identity);
  url.searchParams.set("network", who.network);
  url.searchParams.set("session", String(who.session));
  const response = await canvas.fetch(url, { headers: { Upgrade: "websocket" } });
  if (response.status === 429) throw new ChannelRefused(await refusalMessage(response));
  const upstream = response.webSocket;
  if (response.status !== 101 || !upstream) throw new ChannelError(`canvas answered ${response.status}`);
  // Binary frames arrive as Blob unless asked otherwise; a Blob would be forwarded as "[object Blob]".
  upstream.binaryType = "arraybuffer";
  upstream.accept();
  const info = await new Promise<CanvasInfo>((resolve, reject) => {
    const timer = setTimeout(() => done(new ChannelError("canvas did not greet the channel")), CHANNEL_TIMEOUT_MS);
    const onMessage = (event: MessageEvent) => {
      const decoded = typeof event.data === "string" ? undefined : decodeCanvasInfo(event.data);
      done(decoded?.ok ? decoded.value : new ChannelError("canvas sent something other than its info"));
    };
    const onClose = () => done(new ChannelError("canvas closed the channel"));
    function done(result: CanvasInfo | Error) {
      clearTimeout(timer);
      upstream?.removeEventListener("message", onMessage);
      upstream?.removeEventListener("close", onClose);
      if (result instanceof Error) reject(result);
      else resolve(result);
    }
    upstream.addEventListener("message", onMessage);
    upstream.addEventListener("close", onClose);
  });
  return { upstream, info };
}

/** Closes a socket, ignoring one that is already closed. */
function safeClose(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed.
  }
}

/** Relays one client. `client` is the server end of the client's pair, accepted by the caller. */
export class Session {
  /** Shared by this identity's sessions in this isolate. */
  private readonly pixelBucket: TokenBucket;
  private readonly frameBucket: TokenBucket;
  /** The live limits, as the canvas last announced them. */
  private pixelsPerSecond: number;
  private pixelBurst: number;
  private frozen = false;
  private banned = false;
  private helloSeen = false;
  private closed = false;
  private upstreamClosed = false;
  /** Set while this session holds the isolate's presence coalescing timer (see presence.ts). */
  private reportTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setTimeout> | undefined;
  /** Set while this session carries the isolate's next PlaceBatch (see fan-in.ts). */
  private carryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly presence: IsolatePresence;
  private readonly fanIn: FanIn;

  constructor(
    private readonly client: WebSocket,
    private readonly upstream: WebSocket,
    private readonly info: CanvasInfo,
    private readonly config: EdgeConfig,
    private readonly who: SessionIdentity,
    now: number,
    shared: IsolateShared,
  ) {
    this.presence = shared.presence;
    this.fanIn = shared.fanIn;
    this.pixelsPerSecond = config.pixelsPerSecond;
    this.pixelBurst = config.pixelBurst;
    this.pixelBucket = acquireIdentityBucket(who.identity, config.pixelBurst, config.pixelsPerSecond, now);
    this.frameBucket = new TokenBucket(config.framesPerSecond * 2, config.framesPerSecond, now);
    client.addEventListener("message", (event) => this.fromClient(event.data));
    client.addEventListener("close", (event) => this.end(event.code, "client left"));
    client.addEventListener("error", () => this.end(1011, "client error"));
    upstream.addEventListener("message", (event) => this.fromCanvas(event.data));
    upstream.addEventListener("close", () => {
      this.upstreamClosed = true;
      this.fail(ErrorCode.Unavailable, "the canvas closed the channel");
    });
    upstream.addEventListener("error", () => {
      this.upstreamClosed = true;
      this.fail(ErrorCode.Unavailable, "the canvas channel failed");
    });
    client.send(
      encodeServerHello({
        width: info.width,
        height: info.height,
        seq: info.seq,
        rateLimit: { pixelsPerSecond: config.pixelsPerSecond, burst: config.pixelBurst },
        maxPlacePixels: MAX_PLACE_PIXELS,
        palette: info.palette,
        region: who.region,
        isolateId: who.isolateId,
        online: info.online,
      }),
    );
    this.presence.opened();
    this.reportPresence();
    // Heartbeats start at a random phase so an isolate's sessions spread them out; whichever fires
    // when a report is due sends it.
    this.scheduleHeartbeat(Math.random() * this.presence.heartbeatMs);
  }

  private scheduleHeartbeat(ms: number): void {
    this.heartbeat = setTimeout(() => {
      this.reportPresence();
      this.scheduleHeartbeat(this.presence.heartbeatMs);
    }, ms);
  }

  /** Asks the isolate's presence what to do, and does it through this session's own channel. */
  private reportPresence(): void {
    const action = this.presence.next(Date.now());
    if (action.kind === "send") {
      if (!this.sendUpstream(encodePresenceReport(action.count, action.reportSeq))) this.presence.unsent();
    } else if (action.kind === "wait") {
      this.reportTimer = setTimeout(() => {
        this.reportTimer = undefined;
        this.presence.timerFired();
        this.reportPresence();
        // A session whose client has left kept its channel only for this report.
        if (this.closed && this.reportTimer === undefined) this.closeUpstream("client left");
      }, action.ms);
    }
  }

  private sendUpstream(bytes: Uint8Array): boolean {
    if (this.upstreamClosed) return false;
    try {
      this.upstream.send(bytes);
      return true;
    } catch {
      return false;
    }
  }

  private closeUpstream(reason: string): void {
    if (this.upstreamClosed) return;
    this.upstreamClosed = true;
    safeClose(this.upstream, 1000, reason);
  }

  private fromCanvas(data: string | ArrayBuffer): void {
    if (this.closed) return;
    if (typeof data !== "string" && data.byteLength === 6 && new Uint8Array(data)[0] === Op.Limits) this.onLimits(data);
    try {
      this.client.send(data);
    } catch {
      this.end(1000, "client gone");
    }
  }

  /** The canvas announced the limits in force (at open, and when an admin changes them): follow them. */
  private onLimits(data: ArrayBuffer): void {
    const decoded = decodeServerMessage(data);
    if (!decoded.ok || decoded.value.op !== Op.Limits) return;
    const { pixelsPerSecond, burst, frozen, banned } = decoded.value;
    this.pixelsPerSecond = pixelsPerSecond;
    this.pixelBurst = burst;
    this.frozen = frozen;
    this.banned = banned;
    if (this.pixelBucket.capacity !== burst || this.pixelBucket.ratePerSecond !== pixelsPerSecond) {
      this.pixelBucket.setLimits(burst, pixelsPerSecond, Date.now());
    }
  }

  private fromClient(data: string | ArrayBuffer): void {
    if (this.closed) return;
    const now = Date.now();
    // Every frame, valid or not, spends from the frame budget: a flood of garbage is still a flood.
    if (!this.frameBucket.take(1, now)) {
      this.fail(ErrorCode.Flooded, `more than ${this.config.framesPerSecond} frames per second`);
      return;
    }
    if (typeof data === "string") {
      this.reply(ErrorCode.BadFrame, "binary frames only");
      return;
    }
    const decoded = decodeClientMessage(data, {
      width: this.info.width,
      height: this.info.height,
      paletteSize: this.info.palette.length,
    });
    if (!decoded.ok) {
      const { error, message } = decoded.error;
      if (FATAL_ERRORS.has(error)) this.fail(error, message);
      else this.reply(error, message, placeNonce(data));
      return;
    }
    const msg = decoded.value;
    if (!this.helloSeen && msg.op !== Op.ClientHello) {
      this.reply(ErrorCode.HelloRequired, "send a hello first", msg.op === Op.Place ? msg.nonce : 0);
      return;
    }
    switch (msg.op) {
      case Op.ClientHello:
        if (this.helloSeen) {
          this.reply(ErrorCode.BadFrame, "hello sent twice");
          return;
        }
        this.helloSeen = true;
        // A reconnecting client names the last frame it holds; the canvas replays what it missed.
        if (msg.resumeSeq > 0) this.toCanvas(encodeCatchUp(msg.resumeSeq));
        return;
      case Op.Place: {
        if (this.frozen) {
          this.reply(ErrorCode.Frozen, "the canvas is frozen", msg.nonce);
          return;
        }
        if (this.banned) {
          this.reply(ErrorCode.Banned, "this identity may not draw", msg.nonce);
          return;
        }
        const cost = msg.pixels.length;
        if (!this.pixelBucket.take(cost, now)) {
          const wait = this.pixelBucket.waitMs(cost, now);
          if (wait === Number.POSITIVE_INFINITY) {
            this.reply(ErrorCode.TooLarge, `${cost} pixels at once; the burst is ${this.pixelBurst}`, msg.nonce);
          } else {
            this.reply(ErrorCode.RateLimited, `${this.pixelsPerSecond} pixels per second per person`, msg.nonce, wait);
          }
          return;
        }
        if (this.upstreamClosed) {
          this.fail(ErrorCode.Unavailable, "the canvas channel is closed");
          return;
        }
        // Re-encoded by whoever sends the isolate's batch: the client's bytes never reach the canvas.
        this.place(msg.nonce, msg.pixels, now);
        return;
      }
      case Op.CatchUp:
        this.toCanvas(encodeCatchUp(msg.fromSeq));
        return;
    }
  }

  /** Hands an accepted placement to the isolate's fan-in, and sends or carries the batch if asked to. */
  private place(nonce: number, pixels: Pixel[], now: number): void {
    const action = this.fanIn.add(this.who.session, nonce, pixels, now);
    if (action.kind === "send") {
      this.sendBatches(now);
    } else if (action.kind === "carry") {
      // The timer belongs to this request's context, so its callback may send on this channel.
      this.carryTimer = setTimeout(() => {
        this.carryTimer = undefined;
        this.sendBatches(Date.now());
      }, action.ms);
    }
  }

  /**
   * Sends everything the isolate has queued, over this session's channel. If the channel refuses,
   * the batch goes back to the queue for the next sender, and this session ends like any whose
   * canvas channel failed.
   */
  private sendBatches(now: number): void {
    for (let batch = this.fanIn.drain(now); batch.length > 0; batch = this.fanIn.drain(now)) {
      if (!this.sendUpstream(encodePlaceBatch(batch))) {
        this.fanIn.requeue(batch);
        this.fail(ErrorCode.Unavailable, "the canvas channel is closed");
        return;
      }
    }
  }

  private toCanvas(bytes: Uint8Array): void {
    if (!this.sendUpstream(bytes)) this.fail(ErrorCode.Unavailable, "the canvas channel is closed");
  }

  private reply(code: ErrorCode, message: string, nonce = 0, retryAfterMs = 0): void {
    try {
      this.client.send(encodeError(code, `${ERROR_NAMES[code]}: ${message}`, nonce, retryAfterMs));
    } catch {
      this.end(1000, "client gone");
    }
  }

  /** A fatal error: tell the client why, then close it with the error's code and name [P9]. */
  private fail(code: ErrorCode, message: string): void {
    if (this.closed) return;
    this.reply(code, message);
    this.end(closeCodeFor(code), ERROR_NAMES[code]);
  }

  /**
   * Closes both ends once, after telling presence. The channel stays open while this session holds
   * the presence timer, so the report of this close still goes out. 1005, 1006 and 1015 are reserved
   * for the runtime and may not be sent.
   */
  private end(clientCode: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    releaseIdentityBucket(this.who.identity);
    if (this.heartbeat !== undefined) clearTimeout(this.heartbeat);
    // A carrier that leaves sends what it carried now, while its channel is still open; its timer
    // would die with its request.
    if (this.carryTimer !== undefined) clearTimeout(this.carryTimer);
    this.carryTimer = undefined;
    if (this.fanIn.carrierLeft(this.who.session)) this.sendBatches(Date.now());
    const code = clientCode === 1005 || clientCode === 1006 || clientCode === 1015 ? 1000 : clientCode;
    safeClose(this.client, code, reason);
    this.presence.closed();
    this.reportPresence();
    if (this.reportTimer === undefined) this.closeUpstream(reason);
  }
}
