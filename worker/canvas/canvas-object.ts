/**
 * @module canvas-object
 * The Canvas Durable Object: the one authority for the canvas and the hub every broadcast leaves
 * from. It is wiring only: canvas-state, hub, frame-ring and store hold the rules; this file connects
 * them to the edge channels and the live sockets (hibernatable WebSockets), the timer that paces
 * flushes, and SQLite.
 *
 * Each client connection has two sockets here, both hibernatable. Its edge channel (an isolate
 * cannot share one upstream socket among its clients: I/O belongs to the request that created it)
 * carries validated placements and CatchUp frames in, and what is for that client alone out: its
 * errors, catch-up replies and limits, which the edge relays. Its live socket [P19] is the client's
 * own socket, forwarded by the edge unopened: the broadcast goes to it straight from here, so a
 * frame costs one send per client and no relay. It only receives.
 */
import { DurableObject } from "cloudflare:workers";
import type { AdminAction } from "../admin.ts";
import { type CanvasConfig, canvasConfig } from "../config.ts";
import { applyLimitsPatch, type Limits } from "../limits.ts";
import {
  type BatchedPlacement,
  type CanvasBounds,
  closeCodeFor,
  decodeClientMessage,
  decodePlaceBatch,
  decodePresenceReport,
  ERROR_NAMES,
  ErrorCode,
  encodeCanvasInfo,
  encodeError,
  encodeLimits,
  encodeLiveHello,
  encodePixels,
  encodePresence,
  encodeResync,
  encodeSnapshot,
  MAX_FRAME_PIXELS,
  MAX_LABEL_BYTES,
  Op,
  type Pixel,
  parseU32,
} from "../protocol.ts";
import {
  type ChannelAttachment,
  isChannelAttachment,
  isLiveAttachment,
  type LiveAttachment,
  originKey,
} from "./attachment.ts";
import type { CanvasState } from "./canvas-state.ts";
import { FrameRing } from "./frame-ring.ts";
import { Guard, type SocketKind } from "./guard.ts";
import { Hub, type PendingPlacement } from "./hub.ts";
import { ADMIN_IDENTITY, type AuditEntry, ModerationStore, type PixelLogEntry } from "./moderation-store.ts";
import { PresenceRegistry, type PresenceTotals, totalsDiffer } from "./presence-registry.ts";
import { type CanvasShape, CanvasStore } from "./store.ts";

export { CANVAS_NAME } from "../config.ts";

/** Catch-up window: a client further behind than this refetches the snapshot. */
const RING_FRAMES = 2048;
const RING_BYTES = 16 * 1024 * 1024;
/** The largest rectangle one wipe paints (a 1000×1000 canvas at once; bigger ones in parts). */
const MAX_WIPE_PIXELS = 1 << 20;
/** Presence frames go out at most this often ("a few per second"), at once when the hub is quiet. */
const PRESENCE_INTERVAL_MS = 250;
/**
 * A closed channel stays findable this long: a PlaceBatch carried by another session of its isolate
 * may name it after its close arrived (messages on different sockets are not ordered).
 */
const ORIGIN_GRACE_MS = 10_000;
/** Hibernation tags: channels and live sockets are listed apart (`getWebSockets(tag)`). */
const CHANNEL_TAG = "channel";
const LIVE_TAG = "live";

export interface IsolateStats {
  isolateId: string;
  region: string;
  /** The count the isolate last reported (undefined: it has channels here but has not reported). */
  reported: number | undefined;
  /** Channels this object holds for the isolate: one per client socket the isolate relays. */
  observed: number;
  reportSeq: number | undefined;
  reportAgeMs: number | undefined;
}

export interface PresenceStats extends PresenceTotals {
  /** Channels held here, all isolates together. */
  observed: number;
  /** Live sockets held here [P19]: the sockets every broadcast goes to. */
  live: number;
  isolates: IsolateStats[];
}

/** Who placed a pending placement, and the channel to answer (none for an admin's). */
interface PlacementOrigin {
  ws: WebSocket | undefined;
  who: number;
}

/** The result of an admin action: an HTTP status and a JSON body for the edge to return. */
interface AdminOutcome {
  status: 200 | 400 | 404;
  body: Record<string, unknown>;
}

/** An AdminOutcome across RPC: the body as JSON text (RPC types cannot carry `unknown`). */
export interface AdminResult {
  status: 200 | 400 | 404;
  json: string;
}

export interface AdminState {
  limits: Limits;
  defaults: Limits;
  bans: { identity: string; at: number; reason: string }[];
  pixelLogRows: number;
}

export interface PixelInfo {
  x: number;
  y: number;
  colour: number;
  /** Newest first; empty when nobody drew here within the log's retention. */
  history: PixelLogEntry[];
}

/** Opening a channel was refused: the edge answers the client's upgrade with this. */
export interface ChannelRefusal {
  error: "too_many_sockets";
  message: string;
}

export interface CanvasStats {
  seq: number;
  width: number;
  height: number;
  channels: number;
  /** Live sockets [P19]: one per client connection, the broadcast's recipients. */
  liveSockets: number;
  pixelsPlaced: number;
  framesBroadcast: number;
  /** Messages that brought placements in, and the placements they brought: the edges' fan-in at work. */
  placementMessages: number;
  placementsReceived: number;
  ringFrames: number;
  coldStartMs: number;
  presence: PresenceStats;
}

/** Who a socket's edge vouches for, from the upgrade's query (`isolate`, `region`, `identity`, `network`). */
interface SentBy {
  isolateId: string;
  region: string;
  identity: string;
  network: string;
}

/** The edge's labels from a channel or live socket URL, or a 400 when one is missing or too long. */
function sentBy(url: URL): SentBy | Response {
  const get = (name: string) => url.searchParams.get(name) ?? "";
  const sent = { isolateId: get("isolate"), region: get("region"), identity: get("identity"), network: get("network") };
  const encoder = new TextEncoder();
  const label = (text: string) => text !== "" && encoder.encode(text).length <= MAX_LABEL_BYTES;
  if (
    !label(sent.isolateId) ||
    !label(sent.identity) ||
    !label(sent.network) ||
    encoder.encode(sent.region).length > MAX_LABEL_BYTES
  ) {
    return new Response("isolate, identity and network are required labels", { status: 400 });
  }
  return sent;
}

export class CanvasObject extends DurableObject<Env> {
  private readonly store: CanvasStore;
  private readonly shape: CanvasShape;
  private readonly bounds: CanvasBounds;
  private readonly canvas: CanvasState;
  private readonly hub: Hub<PlacementOrigin>;
  private readonly config: CanvasConfig;
  private readonly moderation: ModerationStore;
  private readonly guard: Guard;
  /** Sockets counted in the guard's socket caps, so a close is uncounted exactly once. */
  private readonly counted = new WeakSet<WebSocket>();
  /** Live sockets' attachments, read once (like `channels`). */
  private readonly lives = new WeakMap<WebSocket, LiveAttachment>();
  private readonly ring = new FrameRing(RING_FRAMES, RING_BYTES);
  /**
   * Attachments already read and checked, so the per-message path does not deserialize one each
   * time. A wake from hibernation starts with an empty map and refills it from the attachments.
   */
  private readonly channels = new WeakMap<WebSocket, ChannelAttachment>();
  /** Every channel by isolate and session, for the placements of a PlaceBatch (edge/fan-in.ts). */
  private readonly origins = new Map<string, WebSocket>();
  /** Closed channels still in `origins`, oldest first, forgotten after ORIGIN_GRACE_MS. */
  private readonly closedOrigins: { key: string; ws: WebSocket; at: number }[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Sockets the last flush sent to: paces the next one without listing the sockets again. */
  private socketsAtLastFlush = 0;
  private readonly presence: PresenceRegistry;
  /** The totals last sent to everyone, and the pacing of presence frames. */
  private presenceSent: PresenceTotals = { total: 0, regions: [] };
  private presenceTimer: ReturnType<typeof setTimeout> | undefined;
  private lastPresenceAt = Number.NEGATIVE_INFINITY;
  private alarmAt: number | undefined;
  private readonly coldStartMs: number;
  // Counters since this instance started (a wake from hibernation starts them again).
  private pixelsPlaced = 0;
  private framesBroadcast = 0;
  /** Messages that carried placements in, and the placements they carried. */
  private placementMessages = 0;
  private placementsReceived = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const started = performance.now();
    const config = canvasConfig(env);
    this.config = config;
    // SQLite calls are synchronous, so the whole load happens here, before any event is delivered.
    this.store = new CanvasStore(ctx.storage.sql);
    const loaded = this.store.load({ width: config.width, height: config.height, palette: config.palette });
    if (loaded.shapeMismatch) {
      console.warn("canvas: the stored canvas keeps its shape and palette; the configured ones apply to a new canvas");
    }
    this.shape = loaded.shape;
    this.canvas = loaded.canvas;
    this.bounds = { width: loaded.shape.width, height: loaded.shape.height, paletteSize: loaded.shape.palette.length };
    this.hub = new Hub(
      config.broadcastIntervalMs,
      loaded.seq,
      MAX_FRAME_PIXELS,
      config.broadcastSendBudget,
      config.broadcastMaxIntervalMs,
    );
    this.moderation = new ModerationStore(ctx.storage.sql, loaded.shape.width);
    this.guard = new Guard(applyLimitsPatch(config.limits, this.moderation.limitOverrides()));
    for (const ban of this.moderation.bans()) this.guard.setBanned(ban.identity, true);
    // A wake from hibernation finds its sockets already open: count them against the caps again.
    for (const ws of ctx.getWebSockets(CHANNEL_TAG)) {
      const attachment = this.channelOf(ws);
      if (!attachment) continue;
      this.countSocket(ws, attachment, "channel");
      this.origins.set(originKey(attachment.isolateId, attachment.session), ws);
    }
    for (const ws of ctx.getWebSockets(LIVE_TAG)) {
      const attachment = this.liveOf(ws);
      if (attachment) this.countSocket(ws, attachment, "live");
    }
    for (const frame of loaded.frames) this.ring.push(frame);
    this.presence = new PresenceRegistry(config.presenceExpiryMs);
    for (const report of this.store.loadPresence()) this.presence.apply(report);
    this.presenceSent = this.presence.totals();
    this.coldStartMs = performance.now() - started;
  }

  /**
   * Opens an edge channel: `GET /channel?isolate=…&region=…&identity=…&network=…` with a WebSocket
   * upgrade. Refused with 429 and a JSON body when the identity or network has its cap of sockets.
   */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/channel" && url.pathname !== "/live") return new Response("not found", { status: 404 });
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const sent = sentBy(url);
    if (sent instanceof Response) return sent;
    if (url.pathname === "/live") return this.openLive(url, sent);
    const { isolateId, region, identity, network } = sent;
    const session = parseU32(url.searchParams.get("session") ?? "");
    if (session === undefined) return new Response("session must be a u32", { status: 400 });
    const refused = this.refusal(sent, "channel");
    if (refused) return refused;
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    // The Hibernation API: the runtime holds the socket, and the object may sleep while it is idle.
    this.ctx.acceptWebSocket(server, [CHANNEL_TAG]);
    const attachment: ChannelAttachment = {
      v: 3,
      isolateId,
      region,
      connectedAt: Date.now(),
      identity,
      network,
      session,
    };
    server.serializeAttachment(attachment);
    this.channels.set(server, attachment);
    this.origins.set(originKey(isolateId, session), server);
    this.countSocket(server, attachment, "channel");
    // Sent in the same synchronous step as the accept: every frame after `seq` reaches this socket.
    server.send(
      encodeCanvasInfo({
        width: this.shape.width,
        height: this.shape.height,
        seq: this.hub.seq,
        online: this.presence.totals().total,
        palette: this.shape.palette,
      }),
    );
    const online = this.presence.totals();
    server.send(encodePresence(online.total, online.regions));
    server.send(this.limitsFrame(this.guard.isBanned(identity)));
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * Opens a live socket [P19]: `GET /live?isolate=…&region=…&identity=…&network=…&from=N`, the
   * client's own upgrade, forwarded by its edge after the origin and identity checks. In the step
   * that accepts it, the socket gets a LiveHello with the current sequence and, when `from` is
   * given, every frame after `from` (or Resync when they are no longer held): from then on it is in
   * the broadcast, so it misses nothing after `from` (after the LiveHello's sequence without it).
   */
  private openLive(url: URL, sent: SentBy): Response {
    const { isolateId, region, identity, network } = sent;
    const fromParam = url.searchParams.get("from");
    const from = fromParam === null ? undefined : parseU32(fromParam);
    if (fromParam !== null && from === undefined) return new Response("from must be a u32", { status: 400 });
    const refused = this.refusal(sent, "live");
    if (refused) return refused;
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [LIVE_TAG]);
    const attachment: LiveAttachment = {
      v: 3,
      live: true,
      isolateId,
      region,
      connectedAt: Date.now(),
      identity,
      network,
    };
    server.serializeAttachment(attachment);
    this.lives.set(server, attachment);
    this.countSocket(server, attachment, "live");
    server.send(encodeLiveHello(this.hub.seq));
    if (from !== undefined) this.catchUp(server, from);
    const online = this.presence.totals();
    server.send(encodePresence(online.total, online.regions));
    return new Response(null, { status: 101, webSocket: client });
  }

  /** A 429 when one more socket of `kind` from this identity or network is over the caps. */
  private refusal(sent: SentBy, kind: SocketKind): Response | undefined {
    const refused = this.guard.socketRefusal(sent, kind);
    if (!refused) return undefined;
    const body: ChannelRefusal = { error: "too_many_sockets", message: refused };
    return Response.json(body, { status: 429 });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    // Channels first: they carry every placement; a live socket that speaks is closed at once.
    const attachment = this.channelOf(ws);
    if (!attachment && this.liveOf(ws)) {
      // A live socket only receives; whatever a client sends belongs on its edge socket.
      try {
        ws.send(encodeError(ErrorCode.BadFrame, `${ERROR_NAMES[ErrorCode.BadFrame]}: the live socket only receives`));
        ws.close(closeCodeFor(ErrorCode.BadFrame), ERROR_NAMES[ErrorCode.BadFrame]);
      } catch {
        // Already closing.
      }
      return;
    }
    if (!attachment) {
      // A channel from an older deploy, or one we cannot account for: the edge reconnects it.
      ws.close(1011, "unknown channel");
      return;
    }
    if (typeof message === "string") {
      ws.send(encodeError(ErrorCode.BadFrame, "binary frames only"));
      return;
    }
    const report = decodePresenceReport(message);
    if (report) {
      if (report.ok) this.onPresenceReport(attachment, report.value.count, report.value.reportSeq);
      else ws.send(encodeError(report.error.error, report.error.message));
      return;
    }
    const batch = decodePlaceBatch(message, this.bounds);
    if (batch) {
      if (batch.ok) this.onPlaceBatch(attachment.isolateId, batch.value.placements);
      else {
        // The edge validated every placement; a batch that fails here is a bug there, not a client's.
        console.error(`canvas: refused a place batch from isolate ${attachment.isolateId}: ${batch.error.message}`);
        ws.send(encodeError(batch.error.error, batch.error.message));
      }
      return;
    }
    // The edge validated this frame already; checking again keeps a bug there from reaching the canvas.
    const decoded = decodeClientMessage(message, this.bounds);
    if (!decoded.ok) {
      ws.send(encodeError(decoded.error.error, decoded.error.message));
      return;
    }
    const msg = decoded.value;
    switch (msg.op) {
      case Op.Place:
        this.placementMessages += 1;
        this.admit(ws, attachment, msg.nonce, msg.pixels, Date.now());
        this.scheduleFlush();
        break;
      case Op.CatchUp:
        this.catchUp(ws, msg.fromSeq);
        break;
      case Op.ClientHello:
        // Hellos end at the edge.
        ws.send(encodeError(ErrorCode.BadFrame, "hello is for the edge"));
        break;
    }
  }

  /**
   * The placements of several sessions of one isolate, in one message. Each is metered and answered
   * as if it had come on its own channel; one whose channel this object does not know (closed longer
   * than the grace period, or opened before a restart) is dropped — its client is gone or was told
   * the canvas went away.
   */
  private onPlaceBatch(isolateId: string, placements: readonly BatchedPlacement[]): void {
    const now = Date.now();
    this.placementMessages += 1;
    let unknown = 0;
    for (const p of placements) {
      const origin = this.origins.get(originKey(isolateId, p.session));
      const attachment = origin && this.channelOf(origin);
      if (!origin || !attachment) {
        unknown += 1;
        continue;
      }
      this.admit(origin, attachment, p.nonce, p.pixels, now);
    }
    if (unknown > 0) console.warn(`canvas: dropped ${unknown} batched placement(s) of channels no longer here`);
    this.scheduleFlush();
  }

  /** Meters one placement against its channel's identity and network, and queues it or refuses it. */
  private admit(ws: WebSocket, attachment: ChannelAttachment, nonce: number, pixels: Pixel[], now: number): void {
    this.placementsReceived += 1;
    const refusal = this.guard.admitPlacement(attachment, pixels.length, now);
    if (refusal) {
      const { code, message: reason, retryAfterMs } = refusal;
      try {
        ws.send(encodeError(code, `${ERROR_NAMES[code]}: ${reason}`, nonce, retryAfterMs));
      } catch {
        // The sender's channel has closed; nothing to tell.
      }
      return;
    }
    // Numbered on its first placement: identities that only watch never reach storage.
    const who = this.moderation.identityNumber(attachment.identity);
    this.hub.add({ origin: { ws, who }, nonce, pixels });
  }

  /** Keeps a closed channel findable for a while (see ORIGIN_GRACE_MS), and forgets older ones. */
  private retireOrigin(ws: WebSocket): void {
    const now = Date.now();
    while (this.closedOrigins.length > 0 && (this.closedOrigins[0]?.at ?? now) <= now - ORIGIN_GRACE_MS) {
      const old = this.closedOrigins.shift();
      if (old && this.origins.get(old.key) === old.ws) this.origins.delete(old.key);
    }
    const attachment = this.channelOf(ws);
    if (attachment) this.closedOrigins.push({ key: originKey(attachment.isolateId, attachment.session), ws, at: now });
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    this.uncountSocket(ws);
    this.retireOrigin(ws);
    // Answer the close handshake; 1005/1006/1015 are reserved and may not be sent.
    const reply = code === 1005 || code === 1006 || code === 1015 ? 1000 : code;
    try {
      ws.close(reply, reason);
    } catch {
      // Already closed.
    }
  }

  override webSocketError(ws: WebSocket, error: unknown): void {
    this.uncountSocket(ws);
    this.retireOrigin(ws);
    console.warn("canvas: channel error", error);
  }

  private countSocket(ws: WebSocket, attachment: ChannelAttachment | LiveAttachment, kind: SocketKind): void {
    if (this.counted.has(ws)) return;
    this.counted.add(ws);
    this.guard.socketOpened(attachment, kind);
  }

  private uncountSocket(ws: WebSocket): void {
    if (!this.counted.has(ws)) return;
    const channel = this.channelOf(ws);
    const attachment = channel ?? this.liveOf(ws);
    if (!attachment) return;
    this.counted.delete(ws);
    this.guard.socketClosed(attachment, channel ? "channel" : "live");
  }

  /** The Limits frame for a channel: the limits in force, and whether its identity is banned [P17]. */
  private limitsFrame(banned: boolean): Uint8Array {
    const l = this.guard.limits;
    return encodeLimits({ pixelsPerSecond: l.pixelsPerSecond, burst: l.pixelBurst, frozen: l.frozen, banned });
  }

  /** Sends every channel its Limits frame (encoded twice at most: banned or not). */
  private sendLimits(only?: (attachment: ChannelAttachment) => boolean): void {
    const frames = [this.limitsFrame(false), this.limitsFrame(true)] as const;
    for (const ws of this.ctx.getWebSockets(CHANNEL_TAG)) {
      const attachment = this.channelOf(ws);
      if (!attachment || (only && !only(attachment))) continue;
      try {
        ws.send(frames[this.guard.isBanned(attachment.identity) ? 1 : 0]);
      } catch {
        // closing
      }
    }
  }

  /** Sends a frame to every live socket: the broadcast [P19]. */
  private sendToAll(frame: Uint8Array): void {
    for (const ws of this.ctx.getWebSockets(LIVE_TAG)) {
      try {
        ws.send(frame);
      } catch {
        // closing
      }
    }
  }

  /** A live socket's attachment; undefined for a channel (ask `channelOf` first: it is the hot path). */
  private liveOf(ws: WebSocket): LiveAttachment | undefined {
    const cached = this.lives.get(ws);
    if (cached) return cached;
    const attachment: unknown = ws.deserializeAttachment();
    if (!isLiveAttachment(attachment)) return undefined;
    this.lives.set(ws, attachment);
    return attachment;
  }

  /** The channel's attachment, shape-checked; undefined when it does not check out. */
  private channelOf(ws: WebSocket): ChannelAttachment | undefined {
    const cached = this.channels.get(ws);
    if (cached) return cached;
    const attachment: unknown = ws.deserializeAttachment();
    if (!isChannelAttachment(attachment)) return undefined;
    this.channels.set(ws, attachment);
    return attachment;
  }

  /** An edge isolate's count of its sockets [P16]; the channel it came on says which isolate. */
  private onPresenceReport(channel: ChannelAttachment, count: number, reportSeq: number): void {
    const report = { isolateId: channel.isolateId, region: channel.region, count, reportSeq, receivedAt: Date.now() };
    if (!this.presence.apply(report)) return; // older than what we hold: it arrived late
    this.store.savePresence(report);
    this.schedulePresence();
    this.ensureAlarm();
  }

  /** Sends a Presence frame to everyone if the totals changed, at most once per interval. */
  private schedulePresence(): void {
    if (this.presenceTimer !== undefined) return;
    const delay = Math.max(0, this.lastPresenceAt + PRESENCE_INTERVAL_MS - Date.now());
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = undefined;
      const totals = this.presence.totals();
      if (!totalsDiffer(totals, this.presenceSent)) return;
      this.lastPresenceAt = Date.now();
      this.presenceSent = totals;
      this.sendToAll(encodePresence(totals.total, totals.regions));
    }, delay);
  }

  /** Keeps an alarm set for the next isolate that would expire if it stays silent. */
  private ensureAlarm(): void {
    const next = this.presence.nextExpiry();
    if (next === undefined || (this.alarmAt !== undefined && this.alarmAt <= next)) return;
    this.alarmAt = next;
    void this.ctx.storage.setAlarm(next);
  }

  /** Expires isolates that missed their heartbeats: a crashed or evicted isolate says no goodbye. */
  override async alarm(): Promise<void> {
    this.alarmAt = undefined;
    const gone = this.presence.expire(Date.now());
    if (gone.length > 0) {
      console.warn(`canvas: presence expired for ${gone.length} silent isolate(s)`);
      this.store.deletePresence(gone);
      this.schedulePresence();
    }
    this.ensureAlarm();
  }

  private catchUp(ws: WebSocket, fromSeq: number): void {
    const frames = this.ring.since(fromSeq, this.hub.seq);
    if (!frames) {
      ws.send(encodeResync(this.hub.seq));
      return;
    }
    for (const frame of frames) ws.send(frame.bytes);
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) return;
    const delay = this.hub.delayUntilFlush(Date.now(), this.socketsAtLastFlush);
    const due = Date.now() + delay;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      // How late the timer fired says how busy the thread is; the hub paces the next flush by it.
      this.hub.timerFired(Date.now() - due);
      this.flush();
    }, delay);
  }

  /**
   * Stores and broadcasts everything pending. The log write and the sends happen in this one event,
   * so the output gate releases the sends only once the write is durable.
   */
  private flush(): void {
    const now = Date.now();
    const batches = this.hub.drain(now);
    const sockets = this.ctx.getWebSockets(LIVE_TAG);
    this.socketsAtLastFlush = sockets.length;
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i];
      if (!batch) continue;
      const frame = encodePixels(batch.seq, batch.pixels);
      try {
        // The frame and its pixel log rows are one transaction: the log never misses a pixel anyone saw.
        this.ctx.storage.transactionSync(() => {
          this.store.appendFrame(batch.seq, frame);
          this.moderation.logPlacements(batch.seq, now, batch.placements);
        });
      } catch (error) {
        console.error("canvas: storing a frame failed; rejecting its placements", error);
        for (const rest of batches.slice(i))
          this.reject(rest.placements, ErrorCode.StorageFailed, "the canvas could not store this pixel");
        break;
      }
      this.hub.commit(batch.seq);
      this.canvas.apply(batch.pixels);
      this.ring.push({ seq: batch.seq, bytes: frame });
      this.pixelsPlaced += batch.pixels.length;
      for (const ws of sockets) {
        try {
          ws.send(frame);
        } catch {
          // A socket that is closing; its close event cleans it up.
        }
      }
      this.framesBroadcast += 1;
    }
    if (this.store.needsCompaction) this.compact(now);
  }

  private compact(now: number): void {
    try {
      this.ctx.storage.transactionSync(() => this.store.compact(this.canvas, this.hub.seq));
    } catch (error) {
      // The log still holds every pixel; the next flush tries again.
      console.error("canvas: compaction failed", error);
    }
    try {
      this.moderation.prune(now, this.config.pixelLogRetention);
    } catch (error) {
      console.error("canvas: pruning the pixel log failed", error);
    }
  }

  private reject(placements: readonly PendingPlacement<PlacementOrigin>[], code: ErrorCode, message: string): void {
    for (const p of placements) {
      try {
        p.origin.ws?.send(encodeError(code, `${ERROR_NAMES[code]}: ${message}`, p.nonce));
      } catch {
        // The sender is gone; nothing to tell.
      }
    }
  }

  /** Flushes what is pending now, outside the pacing (admin actions, which are rare). */
  private flushNow(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flush();
  }

  /** Paints pixels as an admin: logged under "admin", broadcast like any placement, stored before seen. */
  private paintAsAdmin(pixels: readonly Pixel[]): { from: number; to: number } {
    const who = this.moderation.identityNumber(ADMIN_IDENTITY);
    this.flushNow(); // everything placed before the action lands first
    const from = this.hub.seq + 1;
    for (let i = 0; i < pixels.length; i += MAX_FRAME_PIXELS) {
      this.hub.add({ origin: { ws: undefined, who }, nonce: 0, pixels: pixels.slice(i, i + MAX_FRAME_PIXELS) });
    }
    this.flushNow();
    return { from, to: this.hub.seq };
  }

  private setLimits(limits: Limits): void {
    this.guard.limits = limits;
    this.sendLimits();
  }

  /** Carries out an admin action and records it in the audit log. */
  admin(request: AdminAction, actor: string): AdminResult {
    const outcome = this.runAdmin(request, actor);
    return { status: outcome.status, json: JSON.stringify(outcome.body) };
  }

  private runAdmin(request: AdminAction, actor: string): AdminOutcome {
    const now = Date.now();
    let result: AdminOutcome;
    switch (request.action) {
      case "limits":
      case "freeze":
      case "unfreeze": {
        const patch = request.action === "limits" ? request.patch : { frozen: request.action === "freeze" };
        this.moderation.saveLimitOverrides(patch);
        this.setLimits(applyLimitsPatch(this.guard.limits, patch));
        result = { status: 200, body: { limits: this.guard.limits } };
        break;
      }
      case "reset_limits":
        this.moderation.clearLimitOverrides();
        this.setLimits({ ...this.config.limits });
        result = { status: 200, body: { limits: this.guard.limits } };
        break;
      case "wipe": {
        const { x, y, colour } = request;
        if (colour >= this.shape.palette.length) {
          return {
            status: 400,
            body: { error: "bad_colour", message: `the palette has ${this.shape.palette.length} colours` },
          };
        }
        const right = Math.min(this.shape.width, x + request.width);
        const bottom = Math.min(this.shape.height, y + request.height);
        if (x >= this.shape.width || y >= this.shape.height) {
          return {
            status: 400,
            body: { error: "out_of_bounds", message: `the canvas is ${this.shape.width}×${this.shape.height}` },
          };
        }
        const area = (right - x) * (bottom - y);
        if (area > MAX_WIPE_PIXELS) {
          return {
            status: 400,
            body: { error: "too_large", message: `${area} pixels; wipe at most ${MAX_WIPE_PIXELS} per request` },
          };
        }
        const pixels: Pixel[] = [];
        for (let py = y; py < bottom; py++) for (let px = x; px < right; px++) pixels.push({ x: px, y: py, colour });
        const seqs = this.paintAsAdmin(pixels);
        result = {
          status: 200,
          body: { pixels: pixels.length, rect: { x, y, width: right - x, height: bottom - y }, seq: seqs },
        };
        break;
      }
      case "rollback": {
        this.flushNow();
        const pixels = this.moderation.rollbackPlan(request.identity, request.since);
        const seqs = this.paintAsAdmin(pixels);
        result = {
          status: 200,
          body: { identity: request.identity, since: request.since, pixels: pixels.length, seq: seqs },
        };
        break;
      }
      case "ban":
      case "unban": {
        const banned = request.action === "ban";
        const changed = this.moderation.setBan(request.identity, banned, now, banned ? request.reason : "");
        this.guard.setBanned(request.identity, banned);
        // That identity's open pages learn it now, not from their next refused pixel.
        if (changed) this.sendLimits((a) => a.identity === request.identity);
        if (!banned && !changed)
          return { status: 404, body: { error: "not_banned", message: "that identity is not banned" } };
        result = { status: 200, body: { identity: request.identity, banned, changed } };
        break;
      }
    }
    this.moderation.audit(now, actor, request.action, { request, result: result.body });
    return result;
  }

  adminState(): AdminState {
    return {
      limits: this.guard.limits,
      defaults: this.config.limits,
      bans: this.moderation.bans(),
      pixelLogRows: this.moderation.logRows(),
    };
  }

  /** The newest admin actions, newest first, as JSON text (entries carry free-form details). */
  auditLog(limit: number): string {
    return JSON.stringify(this.moderation.auditLog(limit) satisfies AuditEntry[]);
  }

  /** Who drew at (x, y) and when, newest first; undefined when (x, y) is off the canvas. */
  pixelInfo(x: number, y: number, limit = 10): PixelInfo | undefined {
    if (x < 0 || y < 0 || x >= this.shape.width || y >= this.shape.height) return undefined;
    // What is on the canvas now, as broadcast; placements still waiting for the next flush are not yet.
    const colour = this.canvas.pixels[y * this.shape.width + x] ?? 0;
    return { x, y, colour, history: this.moderation.pixelHistory(x, y, limit) };
  }

  /** The uncompressed snapshot: exactly the pixels of every frame up to `seq`. */
  snapshot(): { seq: number; bytes: Uint8Array } {
    const seq = this.hub.seq;
    return {
      seq,
      bytes: encodeSnapshot({ width: this.shape.width, height: this.shape.height, seq, pixels: this.canvas.pixels }),
    };
  }

  stats(): CanvasStats {
    const now = Date.now();
    const observed = new Map<string, { region: string; channels: number }>();
    const sockets = this.ctx.getWebSockets(CHANNEL_TAG);
    const live = this.ctx.getWebSockets(LIVE_TAG).length;
    for (const ws of sockets) {
      const a = this.channelOf(ws);
      if (!a) continue;
      const entry = observed.get(a.isolateId) ?? { region: a.region, channels: 0 };
      entry.channels += 1;
      observed.set(a.isolateId, entry);
    }
    const isolates: IsolateStats[] = this.presence.entries().map((r) => ({
      isolateId: r.isolateId,
      region: r.region,
      reported: r.count,
      observed: observed.get(r.isolateId)?.channels ?? 0,
      reportSeq: r.reportSeq,
      reportAgeMs: now - r.receivedAt,
    }));
    for (const [isolateId, o] of observed) {
      if (!isolates.some((i) => i.isolateId === isolateId)) {
        isolates.push({
          isolateId,
          region: o.region,
          reported: undefined,
          observed: o.channels,
          reportSeq: undefined,
          reportAgeMs: undefined,
        });
      }
    }
    isolates.sort((a, b) => (a.region + a.isolateId < b.region + b.isolateId ? -1 : 1));
    return {
      seq: this.hub.seq,
      width: this.shape.width,
      height: this.shape.height,
      channels: sockets.length,
      liveSockets: live,
      pixelsPlaced: this.pixelsPlaced,
      framesBroadcast: this.framesBroadcast,
      placementMessages: this.placementMessages,
      placementsReceived: this.placementsReceived,
      ringFrames: this.ring.size,
      coldStartMs: this.coldStartMs,
      presence: {
        ...this.presence.totals(),
        observed: sockets.length,
        live,
        isolates,
      },
    };
  }
}
