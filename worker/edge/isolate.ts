/**
 * @module isolate
 * Who this edge isolate is. Module scope may hold plain data shared by every request the isolate
 * serves, but may not call `crypto.randomUUID()` at load ("Disallowed operation called within global
 * scope"), so the id is made on the first request that asks for it.
 */

import { IsolatePresence } from "./presence.ts";

let isolateId: string | undefined;
let presence: IsolatePresence | undefined;

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

/**
 * The region this request is served in: the configured label when there is one (local stacks name
 * their edges), otherwise the Cloudflare colo, otherwise "unknown".
 */
export function regionOf(request: Request, configured: string): string {
  if (configured !== "") return configured;
  const colo: unknown = request.cf?.colo;
  return typeof colo === "string" && colo !== "" ? colo : "unknown";
}
