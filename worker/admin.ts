/**
 * @module admin
 * The admin API's actions as data: parsed and checked at the edge from HTTP bodies, carried out by the
 * Canvas Durable Object (which logs each one in its audit log). Parsing is pure so every refusal is
 * unit-tested; the canvas checks what only it knows (the canvas's bounds and palette).
 */
import { isIdentityId } from "./edge/identity.ts";
import { type LimitsPatch, parseLimitsPatch } from "./limits.ts";

export type AdminAction =
  | { action: "limits"; patch: LimitsPatch }
  | { action: "reset_limits" }
  | { action: "freeze" }
  | { action: "unfreeze" }
  | { action: "wipe"; x: number; y: number; width: number; height: number; colour: number }
  | { action: "rollback"; identity: string; since: number }
  | { action: "ban"; identity: string; reason: string }
  | { action: "unban"; identity: string };

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const MAX_REASON_CHARS = 200;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function intField(body: Record<string, unknown>, key: string, min: number, max: number): number | string {
  const value = body[key];
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    return `${key} must be an integer in [${min}, ${max}]`;
  }
  return value;
}

/** A time as epoch milliseconds or an ISO 8601 string, not in the future. */
export function parseTime(value: unknown, now: number): number | undefined {
  const ms = typeof value === "number" ? value : typeof value === "string" ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms) && ms >= 0 && ms <= now ? ms : undefined;
}

export function parseLimits(body: unknown): Parsed<AdminAction> {
  const parsed = parseLimitsPatch(body);
  if (!parsed.ok) return parsed;
  if (Object.keys(parsed.patch).length === 0) return { ok: false, message: "name at least one limit to change" };
  return { ok: true, value: { action: "limits", patch: parsed.patch } };
}

/** `{x, y, width, height, colour?}`: a rectangle to paint in one colour (0, the background, by default). */
export function parseWipe(body: unknown): Parsed<AdminAction> {
  if (!isObject(body)) return { ok: false, message: "expected {x, y, width, height, colour?}" };
  const fields = [
    intField(body, "x", 0, 65535),
    intField(body, "y", 0, 65535),
    intField(body, "width", 1, 65535),
    intField(body, "height", 1, 65535),
    body.colour === undefined ? 0 : intField(body, "colour", 0, 254),
  ];
  const problem = fields.find((f) => typeof f === "string");
  if (typeof problem === "string") return { ok: false, message: problem };
  const [x, y, width, height, colour] = fields as number[];
  return {
    ok: true,
    value: { action: "wipe", x: x ?? 0, y: y ?? 0, width: width ?? 1, height: height ?? 1, colour: colour ?? 0 },
  };
}

/** `{identity, since}`: since as epoch milliseconds or an ISO 8601 time. */
export function parseRollback(body: unknown, now: number): Parsed<AdminAction> {
  if (!isObject(body)) return { ok: false, message: "expected {identity, since}" };
  const identity = body.identity;
  if (typeof identity !== "string" || !isIdentityId(identity)) {
    return { ok: false, message: "identity must be an identity id (22 base64url characters)" };
  }
  const since = parseTime(body.since, now);
  if (since === undefined) return { ok: false, message: "since must be a past time: epoch milliseconds or ISO 8601" };
  return { ok: true, value: { action: "rollback", identity, since } };
}

export function parseBan(identity: string, body: unknown): Parsed<AdminAction> {
  if (!isIdentityId(identity)) return { ok: false, message: "not an identity id (22 base64url characters)" };
  const reason = isObject(body) && typeof body.reason === "string" ? body.reason.slice(0, MAX_REASON_CHARS) : "";
  return { ok: true, value: { action: "ban", identity, reason } };
}
