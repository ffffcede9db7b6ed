/**
 * @module config
 * Reads the Worker's `[vars]` (wrangler.toml, `--var`, or the dashboard) into typed settings. Every
 * value is checked; a bad one falls back to its default with a logged warning rather than taking the
 * canvas down, because a typo in a dashboard variable should not become an outage.
 */
import { LIMIT_RANGES, type Limits } from "./limits.ts";
import { DEFAULT_PALETTE, MAX_CANVAS_SIDE } from "./protocol.ts";

/** The one canvas's name: every edge addresses the Canvas Durable Object by it. */
export const CANVAS_NAME = "main";

/** The variables this project reads; all optional so tests and tools can pass partial sets. */
export interface Vars {
  REGION?: string;
  ALLOWED_ORIGINS?: string;
  RATE_LIMIT_PIXELS_PER_SECOND?: string;
  RATE_LIMIT_PIXEL_BURST?: string;
  RATE_LIMIT_FRAMES_PER_SECOND?: string;
  RATE_LIMIT_NETWORK_PIXELS_PER_SECOND?: string;
  RATE_LIMIT_NETWORK_PIXEL_BURST?: string;
  MAX_SOCKETS_PER_IDENTITY?: string;
  MAX_SOCKETS_PER_NETWORK?: string;
  LIVE_OPENS_PER_NETWORK_PER_SECOND?: string;
  PIXEL_LOG_RETENTION_HOURS?: string;
  PIXEL_LOG_MAX_ROWS?: string;
  CANVAS_WIDTH?: string;
  CANVAS_HEIGHT?: string;
  CANVAS_PALETTE?: string;
  BROADCAST_INTERVAL_MS?: string;
  BROADCAST_SEND_BUDGET?: string;
  BROADCAST_MAX_INTERVAL_MS?: string;
  PRESENCE_HEARTBEAT_MS?: string;
  EDGE_BATCH_MS?: string;
}

/**
 * Secrets, set with `wrangler secret put` (or `.dev.vars` locally), never in wrangler.toml.
 * IDENTITY_SECRET signs identity cookies; without it a built-in development secret is used and
 * /api/health says so. ADMIN_TOKEN is the bearer token of the admin API; without it the API is off.
 */
export interface Secrets {
  IDENTITY_SECRET?: string;
  ADMIN_TOKEN?: string;
}

export interface EdgeConfig {
  region: string;
  allowedOrigins: string[];
  pixelsPerSecond: number;
  pixelBurst: number;
  framesPerSecond: number;
  /** How often an isolate with sockets reports its count even when it has not changed. */
  presenceHeartbeatMs: number;
  /**
   * How long an isolate gathers its sessions' placements into one message to the canvas while
   * placements are arriving (edge/fan-in.ts); a placement on a quiet isolate leaves at once. 0: one
   * message per placement.
   */
  batchMs: number;
  /**
   * Live sockets [P19] a network may open per second at one edge isolate (bursts to 5×); 0: no
   * meter. Each open may make the canvas replay its ring, so opening in a loop is metered.
   */
  liveOpensPerSecond: number;
}

export interface CanvasConfig {
  width: number;
  height: number;
  palette: number[];
  broadcastIntervalMs: number;
  /** Broadcast sends per second, all sockets together, before the interval stretches. */
  broadcastSendBudget: number;
  /** The most a busy thread may stretch the broadcast interval to (hub.ts). */
  broadcastMaxIntervalMs: number;
  /** An isolate silent this long is forgotten: three missed heartbeats. */
  presenceExpiryMs: number;
  /** The limits until an admin changes them (live knobs, stored by the canvas). */
  limits: Limits;
  pixelLogRetention: { maxAgeMs: number; maxRows: number };
}

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  // Plain decimal digits only: Number() would also take "0x10" and "1e3".
  const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  console.warn(`config: ${name}=${JSON.stringify(raw)} is not an integer in [${min}, ${max}]; using ${fallback}`);
  return fallback;
}

/** Parses "#rrggbb,#rrggbb,…" (the # is optional); undefined when the list is not valid. */
export function parsePalette(raw: string): number[] | undefined {
  const parts = raw
    .split(",")
    .map((p) => p.trim().replace(/^#/, ""))
    .filter((p) => p !== "");
  if (parts.length < 2 || parts.length > 255) return undefined;
  const colours: number[] = [];
  for (const part of parts) {
    if (!/^[0-9a-fA-F]{6}$/.test(part)) return undefined;
    colours.push(Number.parseInt(part, 16));
  }
  return colours;
}

function limit(name: string, key: keyof typeof LIMIT_RANGES, raw: string | undefined, fallback: number): number {
  const [min, max] = LIMIT_RANGES[key];
  return int(name, raw, fallback, min, max);
}

/** The configured limits: per identity from RATE_LIMIT_PIXEL*, per network and socket caps. */
export function defaultLimits(vars: Vars): Limits {
  return {
    pixelsPerSecond: limit("RATE_LIMIT_PIXELS_PER_SECOND", "pixelsPerSecond", vars.RATE_LIMIT_PIXELS_PER_SECOND, 10),
    pixelBurst: limit("RATE_LIMIT_PIXEL_BURST", "pixelBurst", vars.RATE_LIMIT_PIXEL_BURST, 30),
    networkPixelsPerSecond: limit(
      "RATE_LIMIT_NETWORK_PIXELS_PER_SECOND",
      "networkPixelsPerSecond",
      vars.RATE_LIMIT_NETWORK_PIXELS_PER_SECOND,
      100,
    ),
    networkPixelBurst: limit(
      "RATE_LIMIT_NETWORK_PIXEL_BURST",
      "networkPixelBurst",
      vars.RATE_LIMIT_NETWORK_PIXEL_BURST,
      300,
    ),
    socketsPerIdentity: limit("MAX_SOCKETS_PER_IDENTITY", "socketsPerIdentity", vars.MAX_SOCKETS_PER_IDENTITY, 10),
    socketsPerNetwork: limit("MAX_SOCKETS_PER_NETWORK", "socketsPerNetwork", vars.MAX_SOCKETS_PER_NETWORK, 100),
    frozen: false,
  };
}

function presenceHeartbeatMs(vars: Vars): number {
  return int("PRESENCE_HEARTBEAT_MS", vars.PRESENCE_HEARTBEAT_MS, 10_000, 50, 600_000);
}

export function edgeConfig(vars: Vars): EdgeConfig {
  const limits = defaultLimits(vars);
  return {
    // Empty means "use the colo of each request" (production); local stacks name their region.
    region: (vars.REGION ?? "").trim(),
    allowedOrigins: (vars.ALLOWED_ORIGINS ?? "")
      .split(",")
      .map((o) => o.trim())
      .filter((o) => o !== ""),
    // The burst may be smaller than a full Place frame: clients read it from the hello and send less.
    pixelsPerSecond: limits.pixelsPerSecond,
    pixelBurst: limits.pixelBurst,
    framesPerSecond: int("RATE_LIMIT_FRAMES_PER_SECOND", vars.RATE_LIMIT_FRAMES_PER_SECOND, 30, 1, 100000),
    presenceHeartbeatMs: presenceHeartbeatMs(vars),
    batchMs: int("EDGE_BATCH_MS", vars.EDGE_BATCH_MS, 5, 0, 1000),
    liveOpensPerSecond: int(
      "LIVE_OPENS_PER_NETWORK_PER_SECOND",
      vars.LIVE_OPENS_PER_NETWORK_PER_SECOND,
      20,
      0,
      100_000,
    ),
  };
}

export function canvasConfig(vars: Vars): CanvasConfig {
  let palette = [...DEFAULT_PALETTE];
  if (vars.CANVAS_PALETTE && vars.CANVAS_PALETTE.trim() !== "") {
    const parsed = parsePalette(vars.CANVAS_PALETTE);
    if (parsed) palette = parsed;
    else console.warn("config: CANVAS_PALETTE is not 2–255 hex colours; using the default palette");
  }
  return {
    width: int("CANVAS_WIDTH", vars.CANVAS_WIDTH, 1000, 1, MAX_CANVAS_SIDE),
    height: int("CANVAS_HEIGHT", vars.CANVAS_HEIGHT, 1000, 1, MAX_CANVAS_SIDE),
    palette,
    broadcastIntervalMs: int("BROADCAST_INTERVAL_MS", vars.BROADCAST_INTERVAL_MS, 15, 1, 1000),
    broadcastSendBudget: int("BROADCAST_SEND_BUDGET", vars.BROADCAST_SEND_BUDGET, 12_000, 100, 10_000_000),
    broadcastMaxIntervalMs: int("BROADCAST_MAX_INTERVAL_MS", vars.BROADCAST_MAX_INTERVAL_MS, 100, 1, 10_000),
    presenceExpiryMs: 3 * presenceHeartbeatMs(vars),
    limits: defaultLimits(vars),
    pixelLogRetention: {
      maxAgeMs: int("PIXEL_LOG_RETENTION_HOURS", vars.PIXEL_LOG_RETENTION_HOURS, 168, 1, 24 * 366) * 3_600_000,
      maxRows: int("PIXEL_LOG_MAX_ROWS", vars.PIXEL_LOG_MAX_ROWS, 10_000_000, 1000, 1_000_000_000),
    },
  };
}
