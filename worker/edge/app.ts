/**
 * @module app
 * The edge Worker's HTTP surface (Hono). Static files are served by the assets binding before the
 * Worker runs (wrangler.toml `run_worker_first` sends only /ws and /api/* here).
 *
 * - `GET /ws`          the client's WebSocket, terminated here and relayed to the canvas (session.ts)
 * - `GET /api/canvas`  the snapshot: gzip of header + one palette index per pixel, cached ~1 s
 * - `GET /api/health`  liveness of this edge and of the canvas behind it
 *
 * Expected failures are HTTPExceptions with a JSON body naming the error; anything else is logged
 * with its context and answered with a generic 500 — never a stack trace.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { CanvasObject } from "../canvas/canvas-object.ts";
import { CANVAS_NAME, edgeConfig } from "../config.ts";
import { gzip } from "../protocol.ts";
import { getIsolateId, getPresence, regionOf } from "./isolate.ts";
import { openChannel, Session } from "./session.ts";

type AppEnv = { Bindings: Env };

function canvasStub(env: Env): DurableObjectStub<CanvasObject> {
  return env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));
}

function jsonError(status: 400 | 403 | 404 | 405 | 426 | 503, error: string, message: string): HTTPException {
  return new HTTPException(status, { res: Response.json({ error, message }, { status }) });
}

/** Same-origin pages may always connect; other origins only when listed in ALLOWED_ORIGINS. */
export function originAllowed(origin: string | undefined, requestUrl: string, allowed: readonly string[]): boolean {
  if (origin === undefined) return true; // not a browser: no ambient credentials to protect
  return origin === new URL(requestUrl).origin || allowed.includes(origin);
}

export const app = new Hono<AppEnv>();

app.get("/ws", async (c) => {
  const config = edgeConfig(c.env);
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw jsonError(426, "upgrade_required", "GET /ws expects a WebSocket upgrade");
  }
  if (!originAllowed(c.req.header("Origin"), c.req.url, config.allowedOrigins)) {
    throw jsonError(403, "origin_not_allowed", "this origin may not open the canvas socket");
  }
  const who = { isolateId: getIsolateId(), region: regionOf(c.req.raw, config.region) };
  let channel: Awaited<ReturnType<typeof openChannel>>;
  try {
    channel = await openChannel(canvasStub(c.env), who);
  } catch (error) {
    console.error("edge: opening a canvas channel failed", error);
    throw jsonError(503, "canvas_unavailable", "the canvas is not answering; try again shortly");
  }
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  server.binaryType = "arraybuffer";
  server.accept();
  new Session(server, channel.upstream, channel.info, config, who, Date.now(), getPresence(config.presenceHeartbeatMs));
  return new Response(null, { status: 101, webSocket: client });
});

app.all("/ws", () => {
  throw jsonError(405, "method_not_allowed", "use GET with a WebSocket upgrade");
});

app.get("/api/canvas", async (c) => {
  // Snapshots may be a second stale: they say which sequence they hold, and clients catch up from it.
  const key = new Request(new URL("/api/canvas", c.req.url).toString());
  const cache = caches.default;
  const hit = await cache.match(key);
  if (hit) return hit;
  const { seq, bytes } = await canvasStub(c.env).snapshot();
  const body = await gzip(bytes);
  const response = new Response(body, {
    headers: {
      "Content-Type": "application/octet-stream",
      "Cache-Control": "public, max-age=1",
      "X-Canvas-Seq": String(seq),
    },
  });
  c.executionCtx.waitUntil(cache.put(key, response.clone()));
  return response;
});

app.get("/api/health", async (c) => {
  const config = edgeConfig(c.env);
  const stats = await canvasStub(c.env).stats();
  return c.json({
    status: "ok",
    region: regionOf(c.req.raw, config.region),
    isolateId: getIsolateId(),
    canvas: { seq: stats.seq, channels: stats.channels, coldStartMs: stats.coldStartMs },
  });
});

app.get("/api/stats", async (c) => {
  const config = edgeConfig(c.env);
  const stats = await canvasStub(c.env).stats();
  return c.json(
    {
      presence: {
        total: stats.presence.total,
        regions: stats.presence.regions,
        observedChannels: stats.presence.observed,
        isolates: stats.presence.isolates,
      },
      canvas: {
        width: stats.width,
        height: stats.height,
        seq: stats.seq,
        pixelsPlaced: stats.pixelsPlaced,
        framesBroadcast: stats.framesBroadcast,
        ringFrames: stats.ringFrames,
        coldStartMs: stats.coldStartMs,
      },
      servedBy: { region: regionOf(c.req.raw, config.region), isolateId: getIsolateId() },
    },
    200,
    { "Cache-Control": "no-store" },
  );
});

app.notFound((c) => c.json({ error: "not_found", message: `no route for ${c.req.method} ${c.req.path}` }, 404));

app.onError((error, c) => {
  if (error instanceof HTTPException) return error.getResponse();
  console.error(`edge: ${c.req.method} ${c.req.path} failed`, error);
  return c.json({ error: "internal_error", message: "something went wrong on our side" }, 500);
});
