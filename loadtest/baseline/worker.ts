/**
 * @module baseline
 * The ceiling for anything on this runtime: a minimal Durable Object that accepts hibernatable
 * sockets and broadcasts batched binary frames — no validation, no storage, no presence, no edge
 * relay; clients connect straight to it. It speaks just enough of worker/protocol.ts (a server hello,
 * Place in, Pixels out, paced like the real hub) for the same load generator to drive it, so
 * `npm run bench` can put the project and this side by side. Not part of the product.
 */
import { DurableObject } from "cloudflare:workers";
import { encodeServerHello, Op, PIXEL_BYTES } from "../../worker/protocol.ts";

interface BaselineEnv {
  HUB: DurableObjectNamespace<BaselineHub>;
  BROADCAST_INTERVAL_MS?: string;
}

const PLACE_HEADER = 7;
const PIXELS_HEADER = 7;

export class BaselineHub extends DurableObject<BaselineEnv> {
  private pending: Uint8Array[] = [];
  private pendingPixels = 0;
  private seq = 0;
  private lastFlush = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly interval = Number(this.env.BROADCAST_INTERVAL_MS ?? "20") || 20;

  override async fetch(): Promise<Response> {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].send(
      encodeServerHello({
        width: 1000,
        height: 1000,
        seq: this.seq,
        online: 0,
        rateLimit: { pixelsPerSecond: 65535, burst: 65535 },
        maxPlacePixels: 256,
        palette: Array.from({ length: 32 }, (_, i) => i * 0x050505),
        region: "baseline",
        isolateId: "baseline",
      }),
    );
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override webSocketMessage(_ws: WebSocket, message: string | ArrayBuffer): void {
    if (typeof message === "string" || message.byteLength < PLACE_HEADER) return;
    const bytes = new Uint8Array(message);
    if (bytes[0] !== Op.Place) return; // hellos and catch-ups are ignored
    // No validation: the pixel bytes are taken as they came.
    this.pending.push(bytes.subarray(PLACE_HEADER));
    this.pendingPixels += (bytes.length - PLACE_HEADER) / PIXEL_BYTES;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), Math.max(0, this.lastFlush + this.interval - Date.now()));
    }
  }

  private flush(): void {
    this.timer = undefined;
    this.lastFlush = Date.now();
    const frame = new Uint8Array(PIXELS_HEADER + this.pendingPixels * PIXEL_BYTES);
    const view = new DataView(frame.buffer);
    view.setUint8(0, Op.Pixels);
    view.setUint32(1, ++this.seq);
    view.setUint16(5, this.pendingPixels);
    let at = PIXELS_HEADER;
    for (const chunk of this.pending) {
      frame.set(chunk, at);
      at += chunk.length;
    }
    this.pending = [];
    this.pendingPixels = 0;
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(frame);
      } catch {
        // closing
      }
    }
  }

  override webSocketClose(ws: WebSocket, code: number): void {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "bye");
    } catch {
      // already closed
    }
  }
}

export default {
  async fetch(request: Request, env: BaselineEnv): Promise<Response> {
    if (new URL(request.url).pathname === "/api/health") return new Response("ok");
    if (request.headers.get("Upgrade") !== "websocket") return new Response("baseline: GET /ws", { status: 426 });
    return env.HUB.get(env.HUB.idFromName("baseline")).fetch(request);
  },
} satisfies ExportedHandler<BaselineEnv>;
