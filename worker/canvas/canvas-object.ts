/**
 * @module canvas-object
 * The Canvas Durable Object: the one authority for the canvas and the hub every broadcast leaves
 * from. It is wiring only: canvas-state, hub, frame-ring and store hold the rules; this file connects
 * them to the edge channels (hibernatable WebSockets), the timer that paces flushes, and SQLite.
 *
 * Each edge connection has its own channel here (an isolate cannot share one upstream socket among
 * its clients: I/O belongs to the request that created it). The channel carries validated Place and
 * CatchUp frames in and the broadcast bytes out, which the edge passes to its client untouched.
 */
import { DurableObject } from "cloudflare:workers";
import { canvasConfig } from "../config.ts";
import {
  type CanvasBounds,
  decodeClientMessage,
  decodePresenceReport,
  ERROR_NAMES,
  ErrorCode,
  encodeCanvasInfo,
  encodeError,
  encodePixels,
  encodePresence,
  encodeResync,
  encodeSnapshot,
  MAX_FRAME_PIXELS,
  MAX_LABEL_BYTES,
  Op,
} from "../protocol.ts";
import { type ChannelAttachment, isChannelAttachment } from "./attachment.ts";
import type { CanvasState } from "./canvas-state.ts";
import { FrameRing } from "./frame-ring.ts";
import { Hub } from "./hub.ts";
import { PresenceRegistry, type PresenceTotals, totalsDiffer } from "./presence-registry.ts";
import { type CanvasShape, CanvasStore } from "./store.ts";

export { CANVAS_NAME } from "../config.ts";

/** Catch-up window: a client further behind than this refetches the snapshot. */
const RING_FRAMES = 2048;
const RING_BYTES = 16 * 1024 * 1024;
/** Presence frames go out at most this often ("a few per second"), at once when the hub is quiet. */
const PRESENCE_INTERVAL_MS = 250;

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
  isolates: IsolateStats[];
}

export interface CanvasStats {
  seq: number;
  width: number;
  height: number;
  channels: number;
  pixelsPlaced: number;
  framesBroadcast: number;
  ringFrames: number;
  coldStartMs: number;
  presence: PresenceStats;
}

export class CanvasObject extends DurableObject<Env> {
  private readonly store: CanvasStore;
  private readonly shape: CanvasShape;
  private readonly bounds: CanvasBounds;
  private readonly canvas: CanvasState;
  private readonly hub: Hub<WebSocket>;
  private readonly ring = new FrameRing(RING_FRAMES, RING_BYTES);
  /**
   * Attachments already read and checked, so the per-message path does not deserialize one each
   * time. A wake from hibernation starts with an empty map and refills it from the attachments.
   */
  private readonly channels = new WeakMap<WebSocket, ChannelAttachment>();
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

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const started = performance.now();
    const config = canvasConfig(env);
    // SQLite calls are synchronous, so the whole load happens here, before any event is delivered.
    this.store = new CanvasStore(ctx.storage.sql);
    const loaded = this.store.load({ width: config.width, height: config.height, palette: config.palette });
    if (loaded.shapeMismatch) {
      console.warn("canvas: the stored canvas keeps its shape and palette; the configured ones apply to a new canvas");
    }
    this.shape = loaded.shape;
    this.canvas = loaded.canvas;
    this.bounds = { width: loaded.shape.width, height: loaded.shape.height, paletteSize: loaded.shape.palette.length };
    this.hub = new Hub(config.broadcastIntervalMs, loaded.seq, MAX_FRAME_PIXELS, config.broadcastSendBudget);
    for (const frame of loaded.frames) this.ring.push(frame);
    this.presence = new PresenceRegistry(config.presenceExpiryMs);
    for (const report of this.store.loadPresence()) this.presence.apply(report);
    this.presenceSent = this.presence.totals();
    this.coldStartMs = performance.now() - started;
  }

  /** Opens an edge channel: `GET /channel?isolate=…&region=…` with a WebSocket upgrade. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/channel") return new Response("not found", { status: 404 });
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const isolateId = url.searchParams.get("isolate") ?? "";
    const region = url.searchParams.get("region") ?? "";
    const encoder = new TextEncoder();
    if (
      !isolateId ||
      encoder.encode(isolateId).length > MAX_LABEL_BYTES ||
      encoder.encode(region).length > MAX_LABEL_BYTES
    ) {
      return new Response("isolate and region are required labels", { status: 400 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    // The Hibernation API: the runtime holds the socket, and the object may sleep while it is idle.
    this.ctx.acceptWebSocket(server);
    const attachment: ChannelAttachment = { v: 1, isolateId, region, connectedAt: Date.now() };
    server.serializeAttachment(attachment);
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
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const attachment = this.channelOf(ws);
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
    // The edge validated this frame already; checking again keeps a bug there from reaching the canvas.
    const decoded = decodeClientMessage(message, this.bounds);
    if (!decoded.ok) {
      ws.send(encodeError(decoded.error.error, decoded.error.message));
      return;
    }
    const msg = decoded.value;
    switch (msg.op) {
      case Op.Place:
        this.hub.add({ origin: ws, nonce: msg.nonce, pixels: msg.pixels });
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

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    // Answer the close handshake; 1005/1006/1015 are reserved and may not be sent.
    const reply = code === 1005 || code === 1006 || code === 1015 ? 1000 : code;
    try {
      ws.close(reply, reason);
    } catch {
      // Already closed.
    }
  }

  override webSocketError(_ws: WebSocket, error: unknown): void {
    console.warn("canvas: channel error", error);
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
      const frame = encodePresence(totals.total, totals.regions);
      for (const ws of this.ctx.getWebSockets()) {
        try {
          ws.send(frame);
        } catch {
          // closing
        }
      }
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
    this.flushTimer = setTimeout(
      () => {
        this.flushTimer = undefined;
        this.flush();
      },
      this.hub.delayUntilFlush(Date.now(), this.socketsAtLastFlush),
    );
  }

  /**
   * Stores and broadcasts everything pending. The log write and the sends happen in this one event,
   * so the output gate releases the sends only once the write is durable.
   */
  private flush(): void {
    const batches = this.hub.drain(Date.now());
    const sockets = this.ctx.getWebSockets();
    this.socketsAtLastFlush = sockets.length;
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i];
      if (!batch) continue;
      const frame = encodePixels(batch.seq, batch.pixels);
      try {
        this.store.appendFrame(batch.seq, frame);
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
    if (this.store.needsCompaction) this.compact();
  }

  private compact(): void {
    try {
      this.ctx.storage.transactionSync(() => this.store.compact(this.canvas, this.hub.seq));
    } catch (error) {
      // The log still holds every pixel; the next flush tries again.
      console.error("canvas: compaction failed", error);
    }
  }

  private reject(placements: readonly { origin: WebSocket; nonce: number }[], code: ErrorCode, message: string): void {
    for (const p of placements) {
      try {
        p.origin.send(encodeError(code, `${ERROR_NAMES[code]}: ${message}`, p.nonce));
      } catch {
        // The sender is gone; nothing to tell.
      }
    }
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
    const sockets = this.ctx.getWebSockets();
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
      channels: this.ctx.getWebSockets().length,
      pixelsPlaced: this.pixelsPlaced,
      framesBroadcast: this.framesBroadcast,
      ringFrames: this.ring.size,
      coldStartMs: this.coldStartMs,
      presence: { ...this.presence.totals(), observed: sockets.length, isolates },
    };
  }
}
