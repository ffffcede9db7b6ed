/**
 * @module protocol
 * The Pixel Playground wire protocol: every frame the browser, the edge Worker, the Canvas Durable
 * Object and the load test exchange, with its byte layout, encoder and validating decoder.
 *
 * Frames are binary, big-endian, and begin with a one-byte opcode. Layouts are fixed and written with
 * `DataView`; docs/protocol.md is the specification and names rules (`[P1]`…) that the tests cite.
 * Decoders never trust their input: each returns either a typed message or a typed error, having
 * checked length, opcode, bounds and palette. Nothing here touches a socket, so the same file is
 * imported by worker/, web/ and loadtest/.
 */

/**
 * Bumped on any incompatible change. Bytes 0–1 of every hello keep their meaning forever [P2].
 * Version 2: broadcasts come on a second, receive-only socket straight from the canvas [P19].
 */
export const PROTOCOL_VERSION = 2;

/** Opcodes (first byte of every frame). 0x0_ client→server, 0x8_ server→client, 0x4_ edge↔canvas. */
export const Op = {
  ClientHello: 0x01,
  Place: 0x02,
  CatchUp: 0x03,
  ServerHello: 0x81,
  Pixels: 0x82,
  Presence: 0x83,
  Error: 0x84,
  Resync: 0x85,
  Limits: 0x86,
  LiveHello: 0x87,
  CanvasInfo: 0x41,
  PresenceReport: 0x42,
  PlaceBatch: 0x43,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** Error codes carried by Error frames; fatal ones also close the socket with `4000 + code` [P9]. */
export const ErrorCode = {
  BadFrame: 1,
  OutOfBounds: 2,
  BadColour: 3,
  TooLarge: 4,
  RateLimited: 5,
  VersionMismatch: 6,
  HelloRequired: 7,
  Flooded: 8,
  Unavailable: 9,
  Internal: 10,
  StorageFailed: 11,
  Frozen: 12,
  Banned: 13,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Stable names, used as WebSocket close reasons and in logs and docs. */
export const ERROR_NAMES: Readonly<Record<ErrorCode, string>> = {
  [ErrorCode.BadFrame]: "bad_frame",
  [ErrorCode.OutOfBounds]: "out_of_bounds",
  [ErrorCode.BadColour]: "bad_colour",
  [ErrorCode.TooLarge]: "too_large",
  [ErrorCode.RateLimited]: "rate_limited",
  [ErrorCode.VersionMismatch]: "version_mismatch",
  [ErrorCode.HelloRequired]: "hello_required",
  [ErrorCode.Flooded]: "flooded",
  [ErrorCode.Unavailable]: "canvas_unavailable",
  [ErrorCode.Internal]: "internal_error",
  [ErrorCode.StorageFailed]: "storage_failed",
  [ErrorCode.Frozen]: "frozen",
  [ErrorCode.Banned]: "banned",
};

/** Errors after which the server closes the socket. The others reject one frame and carry on. */
export const FATAL_ERRORS: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.VersionMismatch,
  ErrorCode.Flooded,
  ErrorCode.Unavailable,
  ErrorCode.Internal,
]);

/** The close code used for a fatal error [P9]. */
export function closeCodeFor(code: ErrorCode): number {
  return 4000 + code;
}

/** Most pixels one Place frame may carry [P5]. */
export const MAX_PLACE_PIXELS = 256;
/** Most pixels one Pixels broadcast frame carries; the hub splits bigger batches [P6]. */
export const MAX_FRAME_PIXELS = 8192;
/** Bytes per pixel in Place and Pixels frames: x u16, y u16, colour u8. */
export const PIXEL_BYTES = 5;
/** Largest canvas side; coordinates are u16. */
export const MAX_CANVAS_SIDE = 4096;
/** Longest region or isolate label (bytes of UTF-8). */
export const MAX_LABEL_BYTES = 64;

const PLACE_HEADER = 7; // op u8, nonce u32, count u16
const PIXELS_HEADER = 7; // op u8, seq u32, count u16
/** Largest valid client frame: a full Place frame. Anything longer is rejected unread [P4]. */
export const MAX_CLIENT_FRAME_BYTES = PLACE_HEADER + MAX_PLACE_PIXELS * PIXEL_BYTES;

/** One pixel: coordinates and a palette index. */
export interface Pixel {
  x: number;
  y: number;
  colour: number;
}

/** What a decoder needs to know about the canvas to validate a frame. */
export interface CanvasBounds {
  width: number;
  height: number;
  paletteSize: number;
}

/** The server's rate limit, announced in its hello so clients can show it before they hit it. */
export interface RateLimit {
  pixelsPerSecond: number;
  burst: number;
}

export interface ClientHello {
  op: typeof Op.ClientHello;
  version: number;
  /** Last sequence the client holds, to resume from after a reconnect; 0 when it holds none. */
  resumeSeq: number;
}
export interface Place {
  op: typeof Op.Place;
  /** Chosen by the client; errors about this frame carry it back. */
  nonce: number;
  pixels: Pixel[];
}
export interface CatchUp {
  op: typeof Op.CatchUp;
  /** Send every frame with a sequence greater than this. */
  fromSeq: number;
}
export type ClientMessage = ClientHello | Place | CatchUp;

export interface ServerHello {
  op: typeof Op.ServerHello;
  version: number;
  width: number;
  height: number;
  /**
   * Sequence of the newest frame sent before this socket joined; every later frame reaches the
   * connection's live socket opened from it [P19].
   */
  seq: number;
  /** People online when this socket joined (the Presence frame that follows has the regions). */
  online: number;
  rateLimit: RateLimit;
  maxPlacePixels: number;
  /** Colours as 0xRRGGBB; a pixel's colour is an index into this list. */
  palette: number[];
  region: string;
  isolateId: string;
}
export interface PixelsFrame {
  op: typeof Op.Pixels;
  seq: number;
  pixels: Pixel[];
}
export interface Presence {
  op: typeof Op.Presence;
  total: number;
  regions: { region: string; count: number }[];
}
export interface ErrorFrame {
  op: typeof Op.Error;
  code: ErrorCode;
  /** Nonce of the Place frame this is about, 0 when about no particular frame. */
  nonce: number;
  /** For RateLimited: milliseconds until the rejected frame would have been accepted. */
  retryAfterMs: number;
  message: string;
}
export interface Resync {
  op: typeof Op.Resync;
  /** The server's current sequence; the client must refetch the snapshot. */
  seq: number;
}
/**
 * The placement limits in force, sent after the hello and again whenever an admin changes them, so
 * clients pace themselves by what the canvas enforces now [P17].
 */
export interface Limits {
  op: typeof Op.Limits;
  /** Pixels per second per identity, and the burst, as in the hello's rate limit. */
  pixelsPerSecond: number;
  burst: number;
  /** True while the canvas is frozen: every placement is refused with `frozen`. */
  frozen: boolean;
  /** True when this connection's identity is banned: it may watch but its placements are refused. */
  banned: boolean;
}
/**
 * The first frame on a live socket [P19]: the canvas's sequence when the socket joined. Every Pixels
 * frame after `from` (the socket's query parameter; `seq` when it has none) follows on that socket,
 * in order — a replay of what the client missed first, then the live broadcast.
 */
export interface LiveHello {
  op: typeof Op.LiveHello;
  version: number;
  seq: number;
}
export type ServerMessage = ServerHello | PixelsFrame | Presence | ErrorFrame | Resync | Limits | LiveHello;

/** Sent by the Canvas Durable Object first on every channel: what the edge needs to validate and greet. */
export interface CanvasInfo {
  op: typeof Op.CanvasInfo;
  width: number;
  height: number;
  seq: number;
  /** The presence total when the channel opened. */
  online: number;
  palette: number[];
}

/**
 * An edge isolate's count of its own client sockets, sent to the canvas over one of its channels
 * (the channel names the isolate and region). Reports are numbered per isolate; the canvas keeps the
 * newest and ignores older ones that arrive late [P16].
 */
export interface PresenceReport {
  op: typeof Op.PresenceReport;
  count: number;
  reportSeq: number;
}

/** A decoding failure: the error code to send back and a human-readable reason. */
export interface DecodeError {
  error: ErrorCode;
  message: string;
}
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: DecodeError };

function fail(error: ErrorCode, message: string): { ok: false; error: DecodeError } {
  return { ok: false, error: { error, message } };
}

const encoder = new TextEncoder();
// fatal: invalid UTF-8 is a bad frame, not replacement characters; ignoreBOM: a label that begins
// with U+FEFF keeps it (the default would strip it, so labels would not round-trip).
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function asView(data: ArrayBuffer | ArrayBufferView): DataView {
  return ArrayBuffer.isView(data) ? new DataView(data.buffer, data.byteOffset, data.byteLength) : new DataView(data);
}

function labelBytes(label: string): Uint8Array {
  const bytes = encoder.encode(label);
  if (bytes.length > MAX_LABEL_BYTES) throw new RangeError(`label longer than ${MAX_LABEL_BYTES} bytes`);
  return bytes;
}

/** Reads a length-prefixed UTF-8 label; undefined if it runs past the end or is not UTF-8. */
function readLabel(view: DataView, offset: number): { text: string; next: number } | undefined {
  if (offset + 1 > view.byteLength) return undefined;
  const length = view.getUint8(offset);
  const end = offset + 1 + length;
  if (end > view.byteLength) return undefined;
  try {
    return { text: decoder.decode(new Uint8Array(view.buffer, view.byteOffset + offset + 1, length)), next: end };
  } catch {
    return undefined;
  }
}

function writePixels(view: DataView, offset: number, pixels: readonly Pixel[]): void {
  let at = offset;
  for (const p of pixels) {
    view.setUint16(at, p.x);
    view.setUint16(at + 2, p.y);
    view.setUint8(at + 4, p.colour);
    at += PIXEL_BYTES;
  }
}

/**
 * Reads `count` pixels at `offset`, checking each against the canvas [P7]. The caller has checked that
 * the bytes are there.
 */
function readPixels(view: DataView, offset: number, count: number, bounds: CanvasBounds): Decoded<Pixel[]> {
  const pixels: Pixel[] = new Array(count);
  let at = offset;
  for (let i = 0; i < count; i++) {
    const x = view.getUint16(at);
    const y = view.getUint16(at + 2);
    const colour = view.getUint8(at + 4);
    if (x >= bounds.width || y >= bounds.height) {
      return fail(ErrorCode.OutOfBounds, `pixel ${i} at (${x}, ${y}) is outside ${bounds.width}×${bounds.height}`);
    }
    if (colour >= bounds.paletteSize) {
      return fail(ErrorCode.BadColour, `pixel ${i} has colour ${colour}; the palette has ${bounds.paletteSize}`);
    }
    pixels[i] = { x, y, colour };
    at += PIXEL_BYTES;
  }
  return { ok: true, value: pixels };
}

// ---------------------------------------------------------------------------------------------------
// Client → server

/** A decimal u32 as URLs carry sequences and session numbers; undefined for anything else. */
export function parseU32(text: string): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 0xffffffff ? value : undefined;
}

/** The 6-byte hello layout the client hello and the live hello share: op u8, version u8, a u32. */
function encodeShortHello(op: Op, version: number, value: number): Uint8Array {
  const bytes = new Uint8Array(6);
  const view = asView(bytes);
  view.setUint8(0, op);
  view.setUint8(1, version);
  view.setUint32(2, value);
  return bytes;
}

export function encodeClientHello(resumeSeq = 0, version = PROTOCOL_VERSION): Uint8Array {
  return encodeShortHello(Op.ClientHello, version, resumeSeq);
}

export function encodePlace(nonce: number, pixels: readonly Pixel[]): Uint8Array {
  if (pixels.length > 0xffff) throw new RangeError("too many pixels for one frame");
  const bytes = new Uint8Array(PLACE_HEADER + pixels.length * PIXEL_BYTES);
  const view = asView(bytes);
  view.setUint8(0, Op.Place);
  view.setUint32(1, nonce >>> 0);
  view.setUint16(5, pixels.length);
  writePixels(view, PLACE_HEADER, pixels);
  return bytes;
}

export function encodeCatchUp(fromSeq: number): Uint8Array {
  const bytes = new Uint8Array(5);
  const view = asView(bytes);
  view.setUint8(0, Op.CatchUp);
  view.setUint32(1, fromSeq);
  return bytes;
}

/**
 * Decodes and validates one frame from a client [P3–P8]. Text frames are the caller's to reject
 * (they are not bytes); everything about the bytes is checked here.
 */
export function decodeClientMessage(data: ArrayBuffer | ArrayBufferView, bounds: CanvasBounds): Decoded<ClientMessage> {
  const view = asView(data);
  if (view.byteLength === 0) return fail(ErrorCode.BadFrame, "empty frame");
  if (view.byteLength > MAX_CLIENT_FRAME_BYTES) {
    return fail(ErrorCode.TooLarge, `frame of ${view.byteLength} bytes; the limit is ${MAX_CLIENT_FRAME_BYTES}`);
  }
  const op = view.getUint8(0);
  switch (op) {
    case Op.ClientHello: {
      // [P2] the version byte is read before the length check, so any future hello is recognised.
      if (view.byteLength < 2) return fail(ErrorCode.BadFrame, "hello: truncated");
      const version = view.getUint8(1);
      if (version !== PROTOCOL_VERSION) {
        return fail(ErrorCode.VersionMismatch, `client speaks version ${version}; server speaks ${PROTOCOL_VERSION}`);
      }
      if (view.byteLength !== 6) return fail(ErrorCode.BadFrame, `hello: expected 6 bytes, got ${view.byteLength}`);
      return { ok: true, value: { op: Op.ClientHello, version, resumeSeq: view.getUint32(2) } };
    }
    case Op.Place: {
      if (view.byteLength < PLACE_HEADER) return fail(ErrorCode.BadFrame, "place: truncated header");
      const nonce = view.getUint32(1);
      const count = view.getUint16(5);
      if (count === 0) return fail(ErrorCode.BadFrame, "place: no pixels");
      if (count > MAX_PLACE_PIXELS) {
        return fail(ErrorCode.TooLarge, `place: ${count} pixels; the limit is ${MAX_PLACE_PIXELS}`);
      }
      const expected = PLACE_HEADER + count * PIXEL_BYTES;
      if (view.byteLength !== expected) {
        return fail(ErrorCode.BadFrame, `place: ${count} pixels need ${expected} bytes, got ${view.byteLength}`);
      }
      const pixels = readPixels(view, PLACE_HEADER, count, bounds);
      if (!pixels.ok) return pixels;
      return { ok: true, value: { op: Op.Place, nonce, pixels: pixels.value } };
    }
    case Op.CatchUp: {
      if (view.byteLength !== 5) return fail(ErrorCode.BadFrame, `catch-up: expected 5 bytes, got ${view.byteLength}`);
      return { ok: true, value: { op: Op.CatchUp, fromSeq: view.getUint32(1) } };
    }
    default:
      return fail(ErrorCode.BadFrame, `unknown opcode 0x${op.toString(16).padStart(2, "0")}`);
  }
}

/** The nonce of a Place frame, when the bytes hold at least its header; 0 otherwise. */
export function placeNonce(data: ArrayBuffer | ArrayBufferView): number {
  const view = asView(data);
  return view.byteLength >= 5 && view.getUint8(0) === Op.Place ? view.getUint32(1) : 0;
}

// ---------------------------------------------------------------------------------------------------
// Server → client

export function encodeServerHello(hello: Omit<ServerHello, "op" | "version">): Uint8Array {
  const region = labelBytes(hello.region);
  const isolate = labelBytes(hello.isolateId);
  if (hello.palette.length < 1 || hello.palette.length > 255) throw new RangeError("palette size");
  const size = 21 + hello.palette.length * 3 + 1 + region.length + 1 + isolate.length;
  const bytes = new Uint8Array(size);
  const view = asView(bytes);
  view.setUint8(0, Op.ServerHello);
  view.setUint8(1, PROTOCOL_VERSION);
  view.setUint16(2, hello.width);
  view.setUint16(4, hello.height);
  view.setUint32(6, hello.seq);
  view.setUint16(10, hello.rateLimit.pixelsPerSecond);
  view.setUint16(12, hello.rateLimit.burst);
  view.setUint16(14, hello.maxPlacePixels);
  view.setUint32(16, hello.online);
  let at = 20;
  at = writePalette(view, at, hello.palette);
  view.setUint8(at, region.length);
  bytes.set(region, at + 1);
  at += 1 + region.length;
  view.setUint8(at, isolate.length);
  bytes.set(isolate, at + 1);
  return bytes;
}

/** Writes a palette as count u8 then count × RGB; returns the offset after it. */
function writePalette(view: DataView, offset: number, palette: readonly number[]): number {
  view.setUint8(offset, palette.length);
  let at = offset + 1;
  for (const rgb of palette) {
    view.setUint8(at, (rgb >> 16) & 0xff);
    view.setUint8(at + 1, (rgb >> 8) & 0xff);
    view.setUint8(at + 2, rgb & 0xff);
    at += 3;
  }
  return at;
}

function readPalette(view: DataView, offset: number): { palette: number[]; next: number } | undefined {
  if (offset + 1 > view.byteLength) return undefined;
  const count = view.getUint8(offset);
  const next = offset + 1 + count * 3;
  if (count === 0 || next > view.byteLength) return undefined;
  const palette: number[] = [];
  for (let at = offset + 1; at < next; at += 3) {
    palette.push((view.getUint8(at) << 16) | (view.getUint8(at + 1) << 8) | view.getUint8(at + 2));
  }
  return { palette, next };
}

/** Encodes a Pixels broadcast frame. The hub encodes each batch once and sends the same bytes to all. */
export function encodePixels(seq: number, pixels: readonly Pixel[]): Uint8Array {
  if (pixels.length > MAX_FRAME_PIXELS) throw new RangeError("too many pixels for one frame");
  const bytes = new Uint8Array(PIXELS_HEADER + pixels.length * PIXEL_BYTES);
  const view = asView(bytes);
  view.setUint8(0, Op.Pixels);
  view.setUint32(1, seq);
  view.setUint16(5, pixels.length);
  writePixels(view, PIXELS_HEADER, pixels);
  return bytes;
}

export function encodePresence(total: number, regions: readonly { region: string; count: number }[]): Uint8Array {
  if (regions.length > 255) throw new RangeError("too many regions");
  const labels = regions.map((r) => labelBytes(r.region));
  const size = 6 + labels.reduce((sum, l) => sum + 1 + l.length + 4, 0);
  const bytes = new Uint8Array(size);
  const view = asView(bytes);
  view.setUint8(0, Op.Presence);
  view.setUint32(1, total);
  view.setUint8(5, regions.length);
  let at = 6;
  regions.forEach((r, i) => {
    const label = labels[i] ?? new Uint8Array(0);
    view.setUint8(at, label.length);
    bytes.set(label, at + 1);
    at += 1 + label.length;
    view.setUint32(at, r.count);
    at += 4;
  });
  return bytes;
}

export function encodeError(code: ErrorCode, message: string, nonce = 0, retryAfterMs = 0): Uint8Array {
  // Messages are for people; keep them short so an error never costs more than the frame it answers.
  let text = encoder.encode(message);
  if (text.length > 200) {
    // Cut at a character boundary: never leave half a multi-byte character (0b10xxxxxx continues one).
    let end = 200;
    while (end > 0 && ((text[end] ?? 0) & 0xc0) === 0x80) end--;
    text = text.subarray(0, end);
  }
  const bytes = new Uint8Array(11 + text.length);
  const view = asView(bytes);
  view.setUint8(0, Op.Error);
  view.setUint8(1, code);
  view.setUint32(2, nonce >>> 0);
  view.setUint32(6, Math.max(0, Math.min(0xffffffff, Math.ceil(retryAfterMs))));
  view.setUint8(10, text.length);
  bytes.set(text, 11);
  return bytes;
}

export function encodeResync(seq: number): Uint8Array {
  const bytes = new Uint8Array(5);
  const view = asView(bytes);
  view.setUint8(0, Op.Resync);
  view.setUint32(1, seq);
  return bytes;
}

/** Limits: op u8, pixelsPerSecond u16, burst u16, flags u8 (bit 0: frozen, bit 1: banned) [P17]. */
export function encodeLimits(limits: Omit<Limits, "op" | "banned"> & { banned?: boolean }): Uint8Array {
  const bytes = new Uint8Array(6);
  const view = asView(bytes);
  view.setUint8(0, Op.Limits);
  view.setUint16(1, Math.min(0xffff, limits.pixelsPerSecond));
  view.setUint16(3, Math.min(0xffff, limits.burst));
  view.setUint8(5, (limits.frozen ? 1 : 0) | (limits.banned ? 2 : 0));
  return bytes;
}

/** LiveHello: op u8, version u8, seq u32 [P19]. */
export function encodeLiveHello(seq: number): Uint8Array {
  return encodeShortHello(Op.LiveHello, PROTOCOL_VERSION, seq);
}

function isErrorCode(value: number): value is ErrorCode {
  return value >= ErrorCode.BadFrame && value <= ErrorCode.Banned;
}

/**
 * Decodes a frame from the server. Clients run it on every frame; bounds come from the server's hello
 * (pass undefined before it, when only a hello is expected).
 */
export function decodeServerMessage(
  data: ArrayBuffer | ArrayBufferView,
  bounds?: CanvasBounds,
): Decoded<ServerMessage> {
  const view = asView(data);
  if (view.byteLength === 0) return fail(ErrorCode.BadFrame, "empty frame");
  const op = view.getUint8(0);
  switch (op) {
    case Op.ServerHello: {
      if (view.byteLength < 2) return fail(ErrorCode.BadFrame, "hello: truncated");
      const version = view.getUint8(1);
      if (version !== PROTOCOL_VERSION) {
        return fail(ErrorCode.VersionMismatch, `server speaks version ${version}; client speaks ${PROTOCOL_VERSION}`);
      }
      if (view.byteLength < 21) return fail(ErrorCode.BadFrame, "hello: truncated");
      const palette = readPalette(view, 20);
      if (!palette) return fail(ErrorCode.BadFrame, "hello: bad palette");
      const region = readLabel(view, palette.next);
      const isolate = region && readLabel(view, region.next);
      if (!region || !isolate) return fail(ErrorCode.BadFrame, "hello: bad labels");
      if (isolate.next !== view.byteLength) return fail(ErrorCode.BadFrame, "hello: trailing bytes");
      return {
        ok: true,
        value: {
          op: Op.ServerHello,
          version,
          width: view.getUint16(2),
          height: view.getUint16(4),
          seq: view.getUint32(6),
          online: view.getUint32(16),
          rateLimit: { pixelsPerSecond: view.getUint16(10), burst: view.getUint16(12) },
          maxPlacePixels: view.getUint16(14),
          palette: palette.palette,
          region: region.text,
          isolateId: isolate.text,
        },
      };
    }
    case Op.Pixels: {
      if (!bounds) return fail(ErrorCode.BadFrame, "pixels before hello");
      if (view.byteLength < PIXELS_HEADER) return fail(ErrorCode.BadFrame, "pixels: truncated header");
      const seq = view.getUint32(1);
      const count = view.getUint16(5);
      if (view.byteLength !== PIXELS_HEADER + count * PIXEL_BYTES)
        return fail(ErrorCode.BadFrame, "pixels: bad length");
      const pixels = readPixels(view, PIXELS_HEADER, count, bounds);
      if (!pixels.ok) return pixels;
      return { ok: true, value: { op: Op.Pixels, seq, pixels: pixels.value } };
    }
    case Op.Presence: {
      if (view.byteLength < 6) return fail(ErrorCode.BadFrame, "presence: truncated");
      const total = view.getUint32(1);
      const count = view.getUint8(5);
      const regions: { region: string; count: number }[] = [];
      let at = 6;
      for (let i = 0; i < count; i++) {
        const label = readLabel(view, at);
        if (!label || label.next + 4 > view.byteLength) return fail(ErrorCode.BadFrame, "presence: truncated");
        regions.push({ region: label.text, count: view.getUint32(label.next) });
        at = label.next + 4;
      }
      if (at !== view.byteLength) return fail(ErrorCode.BadFrame, "presence: trailing bytes");
      return { ok: true, value: { op: Op.Presence, total, regions } };
    }
    case Op.Error: {
      if (view.byteLength < 11) return fail(ErrorCode.BadFrame, "error: truncated");
      const code = view.getUint8(1);
      if (!isErrorCode(code)) return fail(ErrorCode.BadFrame, `error: unknown code ${code}`);
      const message = readLabelLong(view, 10);
      if (message === undefined) return fail(ErrorCode.BadFrame, "error: bad message");
      return {
        ok: true,
        value: { op: Op.Error, code, nonce: view.getUint32(2), retryAfterMs: view.getUint32(6), message },
      };
    }
    case Op.Resync: {
      if (view.byteLength !== 5) return fail(ErrorCode.BadFrame, "resync: bad length");
      return { ok: true, value: { op: Op.Resync, seq: view.getUint32(1) } };
    }
    case Op.Limits: {
      if (view.byteLength !== 6) return fail(ErrorCode.BadFrame, "limits: bad length");
      const flags = view.getUint8(5);
      if (flags > 3) return fail(ErrorCode.BadFrame, `limits: unknown flags ${flags}`);
      return {
        ok: true,
        value: {
          op: Op.Limits,
          pixelsPerSecond: view.getUint16(1),
          burst: view.getUint16(3),
          frozen: (flags & 1) === 1,
          banned: (flags & 2) === 2,
        },
      };
    }
    case Op.LiveHello: {
      if (view.byteLength < 2) return fail(ErrorCode.BadFrame, "live hello: truncated");
      const version = view.getUint8(1);
      if (version !== PROTOCOL_VERSION) {
        return fail(ErrorCode.VersionMismatch, `server speaks version ${version}; client speaks ${PROTOCOL_VERSION}`);
      }
      if (view.byteLength !== 6) return fail(ErrorCode.BadFrame, "live hello: bad length");
      return { ok: true, value: { op: Op.LiveHello, version, seq: view.getUint32(2) } };
    }
    default:
      return fail(ErrorCode.BadFrame, `unknown opcode 0x${op.toString(16).padStart(2, "0")}`);
  }
}

/** An error message: u8 length then UTF-8, ending exactly at the end of the frame. */
function readLabelLong(view: DataView, offset: number): string | undefined {
  const label = readLabel(view, offset);
  return label && label.next === view.byteLength ? label.text : undefined;
}

/** The sequence of a Pixels frame without decoding its pixels (for relays and counters). */
export function pixelsFrameSeq(data: ArrayBuffer | ArrayBufferView): number | undefined {
  const view = asView(data);
  return view.byteLength >= PIXELS_HEADER && view.getUint8(0) === Op.Pixels ? view.getUint32(1) : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Canvas Durable Object → edge

export function encodeCanvasInfo(info: Omit<CanvasInfo, "op">): Uint8Array {
  if (info.palette.length < 1 || info.palette.length > 255) throw new RangeError("palette size");
  const bytes = new Uint8Array(14 + info.palette.length * 3);
  const view = asView(bytes);
  view.setUint8(0, Op.CanvasInfo);
  view.setUint16(1, info.width);
  view.setUint16(3, info.height);
  view.setUint32(5, info.seq);
  view.setUint32(9, info.online);
  writePalette(view, 13, info.palette);
  return bytes;
}

export function decodeCanvasInfo(data: ArrayBuffer | ArrayBufferView): Decoded<CanvasInfo> {
  const view = asView(data);
  if (view.byteLength < 14 || view.getUint8(0) !== Op.CanvasInfo) return fail(ErrorCode.BadFrame, "not canvas info");
  const palette = readPalette(view, 13);
  if (!palette || palette.next !== view.byteLength) return fail(ErrorCode.BadFrame, "canvas info: bad palette");
  const width = view.getUint16(1);
  const height = view.getUint16(3);
  if (width < 1 || height < 1) return fail(ErrorCode.BadFrame, "canvas info: empty canvas");
  return {
    ok: true,
    value: {
      op: Op.CanvasInfo,
      width,
      height,
      seq: view.getUint32(5),
      online: view.getUint32(9),
      palette: palette.palette,
    },
  };
}

export function encodePresenceReport(count: number, reportSeq: number): Uint8Array {
  const bytes = new Uint8Array(9);
  const view = asView(bytes);
  view.setUint8(0, Op.PresenceReport);
  view.setUint32(1, count);
  view.setUint32(5, reportSeq);
  return bytes;
}

/** Decodes a PresenceReport; undefined for anything else (the caller then decodes a client frame). */
export function decodePresenceReport(data: ArrayBuffer | ArrayBufferView): Decoded<PresenceReport> | undefined {
  const view = asView(data);
  if (view.byteLength === 0 || view.getUint8(0) !== Op.PresenceReport) return undefined;
  if (view.byteLength !== 9)
    return fail(ErrorCode.BadFrame, `presence report: expected 9 bytes, got ${view.byteLength}`);
  return { ok: true, value: { op: Op.PresenceReport, count: view.getUint32(1), reportSeq: view.getUint32(5) } };
}

/**
 * Placements of several client sockets of one edge isolate, carried to the canvas in one message
 * (edge/fan-in.ts): each names the session (numbered per isolate) whose channel it belongs to, so
 * the canvas meters it against that channel's identity and answers on that channel.
 */
export interface BatchedPlacement {
  session: number;
  nonce: number;
  pixels: Pixel[];
}

export interface PlaceBatch {
  op: typeof Op.PlaceBatch;
  placements: BatchedPlacement[];
}

const BATCH_HEADER = 3; // op u8, count u16
const BATCH_ENTRY_HEADER = 10; // session u32, nonce u32, count u16
/** Most placements, and most pixels, one PlaceBatch carries: what fits one broadcast frame. */
export const MAX_BATCH_PLACEMENTS = 0xffff;
export const MAX_BATCH_PIXELS = MAX_FRAME_PIXELS;

/** Bytes a placement of `pixels` pixels adds to a PlaceBatch. */
export function batchEntryBytes(pixels: number): number {
  return BATCH_ENTRY_HEADER + pixels * PIXEL_BYTES;
}

export function encodePlaceBatch(placements: readonly BatchedPlacement[]): Uint8Array {
  if (placements.length === 0 || placements.length > MAX_BATCH_PLACEMENTS) {
    throw new RangeError(`a batch holds 1 to ${MAX_BATCH_PLACEMENTS} placements`);
  }
  let size = BATCH_HEADER;
  for (const p of placements) size += batchEntryBytes(p.pixels.length);
  const bytes = new Uint8Array(size);
  const view = asView(bytes);
  view.setUint8(0, Op.PlaceBatch);
  view.setUint16(1, placements.length);
  let at = BATCH_HEADER;
  for (const p of placements) {
    if (p.pixels.length === 0 || p.pixels.length > MAX_PLACE_PIXELS)
      throw new RangeError("1 to 256 pixels a placement");
    view.setUint32(at, p.session >>> 0);
    view.setUint32(at + 4, p.nonce >>> 0);
    view.setUint16(at + 8, p.pixels.length);
    writePixels(view, at + BATCH_ENTRY_HEADER, p.pixels);
    at += batchEntryBytes(p.pixels.length);
  }
  return bytes;
}

/**
 * Decodes and validates a PlaceBatch; undefined for any other opcode. Every placement is checked as
 * a Place frame is [P5][P7], and the layout must account for every byte.
 */
export function decodePlaceBatch(
  data: ArrayBuffer | ArrayBufferView,
  bounds: CanvasBounds,
): Decoded<PlaceBatch> | undefined {
  const view = asView(data);
  if (view.byteLength === 0 || view.getUint8(0) !== Op.PlaceBatch) return undefined;
  if (view.byteLength < BATCH_HEADER) return fail(ErrorCode.BadFrame, "place batch: truncated header");
  const count = view.getUint16(1);
  if (count === 0) return fail(ErrorCode.BadFrame, "place batch: no placements");
  const placements: BatchedPlacement[] = new Array(count);
  let at = BATCH_HEADER;
  let total = 0;
  for (let i = 0; i < count; i++) {
    if (at + BATCH_ENTRY_HEADER > view.byteLength) return fail(ErrorCode.BadFrame, `place batch: entry ${i} truncated`);
    const pixelCount = view.getUint16(at + 8);
    if (pixelCount === 0 || pixelCount > MAX_PLACE_PIXELS) {
      return fail(ErrorCode.BadFrame, `place batch: entry ${i} has ${pixelCount} pixels`);
    }
    const end = at + batchEntryBytes(pixelCount);
    if (end > view.byteLength) return fail(ErrorCode.BadFrame, `place batch: entry ${i} truncated`);
    total += pixelCount;
    if (total > MAX_BATCH_PIXELS) return fail(ErrorCode.TooLarge, `place batch: over ${MAX_BATCH_PIXELS} pixels`);
    const pixels = readPixels(view, at + BATCH_ENTRY_HEADER, pixelCount, bounds);
    if (!pixels.ok) return pixels;
    placements[i] = { session: view.getUint32(at), nonce: view.getUint32(at + 4), pixels: pixels.value };
    at = end;
  }
  if (at !== view.byteLength) return fail(ErrorCode.BadFrame, `place batch: ${view.byteLength - at} bytes left over`);
  return { ok: true, value: { op: Op.PlaceBatch, placements } };
}

// ---------------------------------------------------------------------------------------------------
// Snapshot (GET /api/canvas): gzip of a 16-byte header followed by one palette index per pixel, row-major.

export const SNAPSHOT_MAGIC = 0x50585047; // "PXPG"
export const SNAPSHOT_HEADER_BYTES = 16;

export interface Snapshot {
  width: number;
  height: number;
  /** The sequence of the newest frame whose pixels the snapshot contains. */
  seq: number;
  pixels: Uint8Array;
}

/** Builds the uncompressed snapshot bytes: header then a copy of the pixels. */
export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const bytes = new Uint8Array(SNAPSHOT_HEADER_BYTES + snapshot.pixels.length);
  const view = asView(bytes);
  view.setUint32(0, SNAPSHOT_MAGIC);
  view.setUint8(4, PROTOCOL_VERSION);
  view.setUint16(6, snapshot.width);
  view.setUint16(8, snapshot.height);
  view.setUint32(10, snapshot.seq);
  bytes.set(snapshot.pixels, SNAPSHOT_HEADER_BYTES);
  return bytes;
}

/** Validates uncompressed snapshot bytes [P10]; the pixels are a view into `data`, not a copy. */
export function decodeSnapshot(data: Uint8Array, paletteSize: number): Decoded<Snapshot> {
  const view = asView(data);
  if (view.byteLength < SNAPSHOT_HEADER_BYTES || view.getUint32(0) !== SNAPSHOT_MAGIC) {
    return fail(ErrorCode.BadFrame, "snapshot: bad header");
  }
  if (view.getUint8(4) !== PROTOCOL_VERSION) return fail(ErrorCode.VersionMismatch, "snapshot: other version");
  const width = view.getUint16(6);
  const height = view.getUint16(8);
  if (view.byteLength !== SNAPSHOT_HEADER_BYTES + width * height)
    return fail(ErrorCode.BadFrame, "snapshot: bad length");
  const pixels = data.subarray(SNAPSHOT_HEADER_BYTES);
  for (let i = 0; i < pixels.length; i++) {
    if ((pixels[i] ?? 0) >= paletteSize) return fail(ErrorCode.BadColour, `snapshot: pixel ${i} outside the palette`);
  }
  return { ok: true, value: { width, height, seq: view.getUint32(10), pixels } };
}

/** Gzips bytes with the platform's CompressionStream (Workers, browsers and Node 18+ all have it). */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  return pipeThrough(bytes, new CompressionStream("gzip"));
}

export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  return pipeThrough(bytes, new DecompressionStream("gzip"));
}

async function pipeThrough(bytes: Uint8Array, transform: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  // A copy backed by a plain ArrayBuffer: what every platform's Blob accepts (types included).
  const owned = new Uint8Array(bytes);
  const stream = new Blob([owned]).stream().pipeThrough(transform);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The default palette: 32 colours, chosen for contrast on light and dark neighbours. */
export const DEFAULT_PALETTE: readonly number[] = [
  0xffffff, 0xd4d7d9, 0x898d90, 0x515252, 0x000000, 0x6d001a, 0xbe0039, 0xff4500, 0xffa800, 0xffd635, 0xfff8b8,
  0x00a368, 0x00cc78, 0x7eed56, 0x00756f, 0x009eaa, 0x00ccc0, 0x2450a4, 0x3690ea, 0x51e9f4, 0x493ac1, 0x6a5cff,
  0x94b3ff, 0x811e9f, 0xb44ac0, 0xe4abff, 0xde107f, 0xff3881, 0xff99aa, 0x6d482f, 0x9c6926, 0xffb470,
];
