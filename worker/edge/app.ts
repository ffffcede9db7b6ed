/**
 * @module app
 * The edge Worker's HTTP surface (Hono). Static files are served by the assets binding before the
 * Worker runs (wrangler.toml `run_worker_first` sends only /ws, /ws/live and /api/* here).
 *
 * - `GET /ws`          the client's WebSocket, terminated here and relayed to the canvas (session.ts)
 * - `GET /ws/live`     the client's receive-only socket, checked here and forwarded to the canvas [P19]
 * - `GET /api/canvas`  the snapshot: gzip of header + one palette index per pixel, cached ~1 s
 * - `GET /api/session` the caller's anonymous identity (setting its signed cookie when it has none)
 * - `GET /api/pixel`   who drew at `?x=&y=` and when (the pixel log)
 * - `GET /api/stats`   presence (reported and observed) and canvas counters
 * - `GET /api/health`  liveness of this edge and of the canvas behind it
 * - `/api/admin/*`     moderation and live limits, for the bearer of ADMIN_TOKEN (docs/admin.md)
 *
 * Expected failures are HTTPExceptions with a JSON body naming the error; anything else is logged
 * with its context and answered with a generic 500 — never a stack trace.
 */
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type AdminAction, type Parsed, parseBan, parseLimits, parseRollback, parseWipe } from "../admin.ts";
import type { CanvasObject } from "../canvas/canvas-object.ts";
import { KeyedBuckets } from "../canvas/guard.ts";
import { CANVAS_NAME, type EdgeConfig, edgeConfig, type Secrets } from "../config.ts";
import { gzip, MAX_CANVAS_SIDE, parseU32 } from "../protocol.ts";
import { DEV_IDENTITY_SECRET, identify, identityCookie, isIdentityId, networkOf, tokenMatches } from "./identity.ts";
import { getFanIn, getIsolateId, getPresence, nextSessionNumber, regionOf } from "./isolate.ts";
import { ChannelRefused, openChannel, refusalMessage, Session } from "./session.ts";

type AppEnv = { Bindings: Env };

function canvasStub(env: Env): DurableObjectStub<CanvasObject> {
  return env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));
}

type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 413 | 415 | 426 | 429 | 503;

function jsonError(status: ErrorStatus, error: string, message: string, headers?: HeadersInit): HTTPException {
  return new HTTPException(status, { res: Response.json({ error, message }, { status, headers }) });
}

function identitySecret(env: Env): string {
  return (env as Secrets).IDENTITY_SECRET || DEV_IDENTITY_SECRET;
}

/** The client's network for per-network limits: Cloudflare's CF-Connecting-IP, grouped (identity.ts). */
function networkOfRequest(request: Request): string {
  return networkOf(request.headers.get("CF-Connecting-IP") ?? undefined);
}

/**
 * Spends one token from `network`'s bucket in `buckets`, or refuses with 429 rate_limited and a
 * Retry-After: the per-network meters of the requests that each cost the canvas something.
 */
function meter(buckets: KeyedBuckets, network: string, burst: number, perSecond: number, refusal: string): void {
  const now = Date.now();
  const wait = buckets.waitMs(network, 1, burst, perSecond, now);
  if (wait > 0) {
    throw jsonError(429, "rate_limited", refusal, { "Retry-After": String(Math.ceil(wait / 1000)) });
  }
  buckets.take(network, 1, burst, perSecond, now);
}

/** Headers that set the identity cookie `identify` minted, when the request brought none (or a bad one). */
function cookieHeaders(c: Context<AppEnv>, setCookie: string | undefined): Record<string, string> | undefined {
  if (!setCookie) return undefined;
  return { "Set-Cookie": identityCookie(setCookie, new URL(c.req.url).protocol === "https:") };
}

/** Same-origin pages may always connect; other origins only when listed in ALLOWED_ORIGINS. */
export function originAllowed(origin: string | undefined, requestUrl: string, allowed: readonly string[]): boolean {
  if (origin === undefined) return true; // not a browser: no ambient credentials to protect
  return origin === new URL(requestUrl).origin || allowed.includes(origin);
}

export const app = new Hono<AppEnv>();

/** The checks both sockets share: a WebSocket upgrade, from an allowed origin. */
function checkUpgrade(c: Context<AppEnv>, config: EdgeConfig): void {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw jsonError(426, "upgrade_required", `GET ${c.req.path} expects a WebSocket upgrade`);
  }
  if (!originAllowed(c.req.header("Origin"), c.req.url, config.allowedOrigins)) {
    throw jsonError(403, "origin_not_allowed", "this origin may not open the canvas socket");
  }
}

app.get("/ws", async (c) => {
  const config = edgeConfig(c.env);
  checkUpgrade(c, config);
  const { id, setCookie } = await identify(c.req.header("Cookie"), identitySecret(c.env));
  const who = {
    isolateId: getIsolateId(),
    region: regionOf(c.req.raw, config.region),
    identity: id,
    network: networkOfRequest(c.req.raw),
    session: nextSessionNumber(),
  };
  let channel: Awaited<ReturnType<typeof openChannel>>;
  try {
    channel = await openChannel(canvasStub(c.env), who);
  } catch (error) {
    if (error instanceof ChannelRefused) throw jsonError(429, "too_many_sockets", error.message);
    console.error("edge: opening a canvas channel failed", error);
    throw jsonError(503, "canvas_unavailable", "the canvas is not answering; try again shortly");
  }
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  server.binaryType = "arraybuffer";
  server.accept();
  new Session(server, channel.upstream, channel.info, config, who, Date.now(), {
    presence: getPresence(config.presenceHeartbeatMs),
    fanIn: getFanIn(config.batchMs),
  });
  return new Response(null, { status: 101, webSocket: client, headers: cookieHeaders(c, setCookie) });
});

/**
 * Live socket opens per network, per edge isolate (LIVE_OPENS_PER_NETWORK_PER_SECOND, bursts to 5×).
 * Each open may make the canvas replay up to its whole ring of frames (`from`), so reconnecting in a
 * loop must not become the canvas's workload; a page opens one per reconnect, and a network's pages
 * back off after a restart.
 */
const liveOpens = new KeyedBuckets();
export const LIVE_OPEN_BURST_FACTOR = 5;

/**
 * The live socket [P19]: the same checks as /ws (upgrade, origin, identity, then the canvas's socket
 * caps) and a meter of opens per network, and then the upgrade goes to the canvas and its socket
 * back to the client unopened. The runtime pumps its bytes; no code here runs per frame. Nothing a
 * client sends on it is for the canvas: the canvas closes a live socket that sends anything
 * (bad_frame).
 */
app.get("/ws/live", async (c) => {
  const config = edgeConfig(c.env);
  checkUpgrade(c, config);
  const from = c.req.query("from");
  if (from !== undefined && parseU32(from) === undefined) {
    throw jsonError(400, "bad_query", "from must be a sequence number (an integer in [0, 2^32 - 1])");
  }
  const network = networkOfRequest(c.req.raw);
  const perSecond = config.liveOpensPerSecond;
  if (perSecond > 0) {
    meter(
      liveOpens,
      network,
      perSecond * LIVE_OPEN_BURST_FACTOR,
      perSecond,
      `at most ${perSecond} live sockets opened per second per network`,
    );
  }
  const { id, setCookie } = await identify(c.req.header("Cookie"), identitySecret(c.env));
  const url = new URL("https://canvas/live");
  url.searchParams.set("isolate", getIsolateId());
  url.searchParams.set("region", regionOf(c.req.raw, config.region));
  url.searchParams.set("identity", id);
  url.searchParams.set("network", network);
  if (from !== undefined) url.searchParams.set("from", from);
  let response: Response;
  try {
    response = await canvasStub(c.env).fetch(url, { headers: { Upgrade: "websocket" } });
  } catch (error) {
    console.error("edge: opening a live socket failed", error);
    throw jsonError(503, "canvas_unavailable", "the canvas is not answering; try again shortly");
  }
  if (response.status === 429) throw jsonError(429, "too_many_sockets", await refusalMessage(response));
  const socket = response.webSocket;
  if (response.status !== 101 || !socket) {
    console.error(`edge: the canvas answered a live socket with ${response.status}`);
    throw jsonError(503, "canvas_unavailable", "the canvas is not answering; try again shortly");
  }
  return new Response(null, { status: 101, webSocket: socket, headers: cookieHeaders(c, setCookie) });
});

for (const path of ["/ws", "/ws/live"]) {
  app.all(path, () => {
    throw jsonError(405, "method_not_allowed", "use GET with a WebSocket upgrade");
  });
}

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

/**
 * Health and stats ask the canvas too (stats walks every channel), so they are metered per network
 * as well; generously, since monitors and the load test poll them (the load test every 50 ms).
 */
const statusLookups = new KeyedBuckets();
export const STATUS_LOOKUPS_PER_SECOND = 50;
export const STATUS_LOOKUP_BURST = 100;

app.use("/api/health", meterStatus);
app.use("/api/stats", meterStatus);

async function meterStatus(c: Context<AppEnv>, next: () => Promise<void>): Promise<void> {
  meter(
    statusLookups,
    networkOfRequest(c.req.raw),
    STATUS_LOOKUP_BURST,
    STATUS_LOOKUPS_PER_SECOND,
    `at most ${STATUS_LOOKUPS_PER_SECOND} status requests per second`,
  );
  await next();
}

app.get("/api/health", async (c) => {
  const config = edgeConfig(c.env);
  const stats = await canvasStub(c.env).stats();
  const secrets = c.env as Secrets;
  return c.json({
    status: "ok",
    region: regionOf(c.req.raw, config.region),
    isolateId: getIsolateId(),
    canvas: {
      seq: stats.seq,
      channels: stats.channels,
      liveSockets: stats.liveSockets,
      coldStartMs: stats.coldStartMs,
    },
    // Deployments should set both secrets; the development identity secret is public.
    identitySecret: secrets.IDENTITY_SECRET ? "configured" : "development-default",
    adminApi: secrets.ADMIN_TOKEN ? "enabled" : "disabled",
  });
});

app.get("/api/session", async (c) => {
  const { id, setCookie } = await identify(c.req.header("Cookie"), identitySecret(c.env));
  return c.json({ identity: id }, 200, { ...cookieHeaders(c, setCookie), "Cache-Control": "no-store" });
});

/** A query parameter as a non-negative integer below `max`, or a 400. */
function coordinate(c: Context, name: string, max: number): number {
  const raw = c.req.query(name) ?? "";
  if (!/^\d{1,5}$/.test(raw) || Number(raw) >= max) {
    throw jsonError(400, "bad_query", `${name} must be an integer in [0, ${max - 1}]`);
  }
  return Number(raw);
}

/**
 * Pixel lookups per network, per edge isolate: each one is a call to the canvas and a query of its
 * log, so a scan of the canvas by one client must not become the canvas's workload.
 */
const pixelLookups = new KeyedBuckets();
export const PIXEL_LOOKUPS_PER_SECOND = 10;
export const PIXEL_LOOKUP_BURST = 30;

app.get("/api/pixel", async (c) => {
  const x = coordinate(c, "x", MAX_CANVAS_SIDE);
  const y = coordinate(c, "y", MAX_CANVAS_SIDE);
  meter(
    pixelLookups,
    networkOfRequest(c.req.raw),
    PIXEL_LOOKUP_BURST,
    PIXEL_LOOKUPS_PER_SECOND,
    `at most ${PIXEL_LOOKUPS_PER_SECOND} pixel lookups per second`,
  );
  const info = await canvasStub(c.env).pixelInfo(x, y);
  if (!info) throw jsonError(404, "out_of_bounds", `(${x}, ${y}) is not on the canvas`);
  return c.json(info, 200, { "Cache-Control": "no-store" });
});

// --- Admin API: a bearer token from the ADMIN_TOKEN secret; off when the secret is not set. ---

app.use("/api/admin/*", async (c, next) => {
  const expected = (c.env as Secrets).ADMIN_TOKEN ?? "";
  if (expected === "") throw jsonError(403, "admin_disabled", "set the ADMIN_TOKEN secret to enable the admin API");
  const header = c.req.header("Authorization") ?? "";
  const presented = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
  if (!(await tokenMatches(presented, expected))) {
    throw jsonError(401, "unauthorized", "a valid admin bearer token is required", {
      "WWW-Authenticate": 'Bearer realm="pixel-playground-admin"',
    });
  }
  c.header("Cache-Control", "no-store");
  await next();
});

/** Who did it, for the audit log: the admin's network and region (the token itself is never logged). */
function actorOf(c: Context<AppEnv>): string {
  return `admin@${networkOfRequest(c.req.raw)}/${regionOf(c.req.raw, edgeConfig(c.env).region)}`;
}

const MAX_ADMIN_BODY_BYTES = 16 * 1024;

async function jsonBody(c: Context<AppEnv>): Promise<unknown> {
  const type = c.req.header("Content-Type") ?? "";
  if (!type.toLowerCase().startsWith("application/json")) {
    throw jsonError(415, "unsupported_media_type", "send a JSON body with Content-Type: application/json");
  }
  const text = await c.req.text();
  if (text.length > MAX_ADMIN_BODY_BYTES) throw jsonError(413, "too_large", "the body is too large");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw jsonError(400, "bad_json", "the body is not valid JSON");
  }
}

async function runAdmin(c: Context<AppEnv>, parsed: Parsed<AdminAction>): Promise<Response> {
  if (!parsed.ok) throw jsonError(400, "bad_request", parsed.message);
  const result = await canvasStub(c.env).admin(parsed.value, actorOf(c));
  return c.body(result.json, result.status, { "Content-Type": "application/json" });
}

app.get("/api/admin", async (c) => c.json(await canvasStub(c.env).adminState()));
app.get("/api/admin/limits", async (c) => c.json((await canvasStub(c.env).adminState()).limits));
app.patch("/api/admin/limits", async (c) => runAdmin(c, parseLimits(await jsonBody(c))));
app.delete("/api/admin/limits", async (c) => runAdmin(c, { ok: true, value: { action: "reset_limits" } }));
app.post("/api/admin/freeze", async (c) => runAdmin(c, { ok: true, value: { action: "freeze" } }));
app.post("/api/admin/unfreeze", async (c) => runAdmin(c, { ok: true, value: { action: "unfreeze" } }));
app.post("/api/admin/wipe", async (c) => runAdmin(c, parseWipe(await jsonBody(c))));
app.post("/api/admin/rollback", async (c) => runAdmin(c, parseRollback(await jsonBody(c), Date.now())));
app.get("/api/admin/bans", async (c) => c.json((await canvasStub(c.env).adminState()).bans));
app.put("/api/admin/bans/:identity", async (c) => {
  const body = c.req.header("Content-Type")?.startsWith("application/json") ? await jsonBody(c) : {};
  return runAdmin(c, parseBan(c.req.param("identity"), body));
});
app.delete("/api/admin/bans/:identity", async (c) => {
  const identity = c.req.param("identity");
  if (!isIdentityId(identity)) throw jsonError(400, "bad_request", "not an identity id (22 base64url characters)");
  return runAdmin(c, { ok: true, value: { action: "unban", identity } });
});
app.get("/api/admin/audit", async (c) => {
  const raw = c.req.query("limit") ?? "100";
  const limit = /^\d{1,4}$/.test(raw) ? Math.max(1, Number(raw)) : 100;
  return c.body(await canvasStub(c.env).auditLog(limit), 200, { "Content-Type": "application/json" });
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
        liveSockets: stats.presence.live,
        isolates: stats.presence.isolates,
      },
      canvas: {
        width: stats.width,
        height: stats.height,
        seq: stats.seq,
        pixelsPlaced: stats.pixelsPlaced,
        framesBroadcast: stats.framesBroadcast,
        placementMessages: stats.placementMessages,
        placementsReceived: stats.placementsReceived,
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
