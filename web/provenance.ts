/**
 * @module provenance
 * Who placed a pixel and when, for the pixel info panel (pixel-info.ts): the server's pixel log at
 * `GET /api/pixel?x=&y=` (`{x, y, colour, history: [{identity, at, seq, colour}, …]}`, newest first),
 * checked field by field, and told in words: "you" for the page's own identity, "admin" for an
 * admin's paint, otherwise the first characters of the anonymous identity. No DOM, so it is tested in
 * Node.
 *
 * The answer is trusted only when it explains the colour: its newest entry must have placed the
 * colour the server says the pixel has. A pixel last changed by something the log does not hold (its
 * entries expired, or nobody drew there since the canvas began) has no known author, and the panel
 * says nothing rather than name the wrong one.
 */

import type { Provenance, ProvenanceSource } from "./pixel-info.ts";

/** The identity under which the server logs an admin's paint (wipe, rollback). */
export const ADMIN_IDENTITY = "admin";
/** Characters of an identity shown: enough to tell people apart, short enough to read. */
export const SHORT_IDENTITY_CHARS = 8;

export interface PixelLogEntry {
  identity: string;
  /** Epoch milliseconds. */
  at: number;
  seq: number;
  colour: number;
}

export interface PixelRecord {
  x: number;
  y: number;
  /** The pixel's colour on the server now. */
  colour: number;
  /** Newest first. */
  history: PixelLogEntry[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function parseEntry(value: unknown): PixelLogEntry | undefined {
  if (!isObject(value)) return undefined;
  const { identity, at, seq, colour } = value;
  if (typeof identity !== "string" || identity === "" || !isCount(at) || !isCount(seq) || !isCount(colour)) {
    return undefined;
  }
  return { identity, at, seq, colour };
}

/** A `/api/pixel` body, if every field is what it should be. */
export function parsePixelRecord(body: unknown): PixelRecord | undefined {
  if (!isObject(body)) return undefined;
  const { x, y, colour, history } = body;
  if (!isCount(x) || !isCount(y) || !isCount(colour) || !Array.isArray(history)) return undefined;
  const entries: PixelLogEntry[] = [];
  for (const item of history) {
    const entry = parseEntry(item);
    if (!entry) return undefined;
    entries.push(entry);
  }
  return { x, y, colour, history: entries };
}

/** Who placed a pixel, in words: "you", "admin", or the start of someone's anonymous identity. */
export function describePlacer(identity: string, self: string | undefined): string {
  if (self !== undefined && identity === self) return "you";
  if (identity === ADMIN_IDENTITY) return "admin";
  return identity.slice(0, SHORT_IDENTITY_CHARS);
}

/** What the panel may say about a record: who and when, only if its newest entry explains the colour. */
export function provenanceOf(record: PixelRecord, self: string | undefined): Provenance {
  const newest = record.history[0];
  if (!newest || newest.colour !== record.colour) return { colour: record.colour };
  return {
    colour: record.colour,
    placedBy: describePlacer(newest.identity, self),
    placedById: newest.identity,
    placedAt: new Date(newest.at),
  };
}

/**
 * A ProvenanceSource asking `url` (`/api/pixel`). `self` gives the page's identity (identity.ts);
 * when it cannot be had, the page's own pixels are named by their identity like anyone's.
 */
export function pixelLogSource(
  url: string,
  self: () => Promise<string | undefined>,
  fetcher: typeof fetch = (input, init) => fetch(input, init),
): ProvenanceSource {
  return async (x, y, signal) => {
    const [response, identity] = await Promise.all([
      fetcher(`${url}?x=${x}&y=${y}`, { cache: "no-store", signal }),
      self(),
    ]);
    // Off the canvas (404) is no answer, not a failure: the canvas may have shrunk meanwhile.
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const record = parsePixelRecord(await response.json());
    if (!record) throw new Error(`${url}: an answer the page cannot read`);
    return provenanceOf(record, identity);
  };
}
