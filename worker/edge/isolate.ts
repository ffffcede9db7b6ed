/**
 * @module isolate
 * Who this edge isolate is. Module scope may hold plain data shared by every request the isolate
 * serves, but may not call `crypto.randomUUID()` at load ("Disallowed operation called within global
 * scope"), so the id is made on the first request that asks for it.
 */

import { TokenBucket } from "../token-bucket.ts";
import { FanIn } from "./fan-in.ts";
import { IsolatePresence } from "./presence.ts";

let isolateId: string | undefined;
let presence: IsolatePresence | undefined;
let fanIn: FanIn | undefined;
let sessions = 0;

/** Reports go out at most this often, however fast sockets come and go. */
export const PRESENCE_COALESCE_MS = 250;

/** A random id made once per isolate, on first use. */
export function getIsolateId(): string {
  isolateId ??= crypto.randomUUID();
  return isolateId;
}

/** This isolate's socket count and report schedule (plain data, shared by its sessions). */
export function getPresence(heartbeatMs: number): IsolatePresence {
  presence ??= new IsolatePresence(PRESENCE_COALESCE_MS, heartbeatMs);
  return presence;
}

/** This isolate's queue of placements bound for the canvas (fan-in.ts), shared by its sessions. */
export function getFanIn(windowMs: number): FanIn {
  fanIn ??= new FanIn(windowMs);
  return fanIn;
}

/** A number for a new session, unique in this isolate: PlaceBatch entries name their session by it. */
export function nextSessionNumber(): number {
  sessions = (sessions + 1) >>> 0;
  return sessions;
}

/**
 * The region this request is served in: the configured label when there is one (local stacks name
 * their edges), otherwise the Cloudflare colo, otherwise "unknown".
 */
export function regionOf(request: Request, configured: string): string {
  if (configured !== "") return configured;
  const colo: unknown = request.cf?.colo;
  return typeof colo === "string" && colo !== "" ? colo : "unknown";
}

/**
 * Per-identity pixel buckets shared by this isolate's sessions: an identity with three tabs on this
 * isolate spends from one bucket, so the edge stops its flood before the canvas has to. (The canvas
 * holds the authoritative bucket across isolates.) Released when its last session here ends.
 */
const identityBuckets = new Map<string, { bucket: TokenBucket; sessions: number }>();

export function acquireIdentityBucket(identity: string, burst: number, perSecond: number, now: number): TokenBucket {
  let entry = identityBuckets.get(identity);
  if (!entry) {
    entry = { bucket: new TokenBucket(burst, perSecond, now), sessions: 0 };
    identityBuckets.set(identity, entry);
  }
  entry.sessions += 1;
  return entry.bucket;
}

export function releaseIdentityBucket(identity: string): void {
  const entry = identityBuckets.get(identity);
  if (!entry) return;
  entry.sessions -= 1;
  if (entry.sessions <= 0) identityBuckets.delete(identity);
}
