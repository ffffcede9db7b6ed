/**
 * Tests of the wire protocol (protocol.ts): byte layouts, round trips and every rejection the
 * decoders promise, each citing the rule of docs/protocol.md it checks, then a seeded fuzz run that
 * feeds the decoders random and mangled bytes and holds them to "a typed error or a valid value,
 * never an exception". Runs in Node.
 */

import { describe, expect, it } from "vitest";
import { prng } from "../test/support/random.ts";
import type { CanvasBounds, Decoded, Pixel, ServerHello } from "./protocol.ts";
import {
  closeCodeFor,
  DEFAULT_PALETTE,
  decodeCanvasInfo,
  decodeClientMessage,
  decodeServerMessage,
  decodeSnapshot,
  ERROR_NAMES,
  ErrorCode,
  encodeCanvasInfo,
  encodeCatchUp,
  encodeClientHello,
  encodeError,
  encodeLimits,
  encodeLiveHello,
  encodePixels,
  encodePlace,
  encodePresence,
  encodeResync,
  encodeServerHello,
  encodeSnapshot,
  FATAL_ERRORS,
  gunzip,
  gzip,
  MAX_CLIENT_FRAME_BYTES,
  MAX_FRAME_PIXELS,
  MAX_LABEL_BYTES,
  MAX_PLACE_PIXELS,
  Op,
  PIXEL_BYTES,
  PROTOCOL_VERSION,
  pixelsFrameSeq,
  placeNonce,
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_MAGIC,
} from "./protocol.ts";

/** A deliberately odd canvas, so a swapped width and height or an off-by-one shows. */
const BOUNDS: CanvasBounds = { width: 300, height: 200, paletteSize: 16 };

const ALL_CODES = Object.values(ErrorCode);

function decodedValue<T>(decoded: Decoded<T>): T {
  if (!decoded.ok)
    throw new Error(`expected a value, got ${ERROR_NAMES[decoded.error.error]}: ${decoded.error.message}`);
  return decoded.value;
}

function errorOf<T>(decoded: Decoded<T>): ErrorCode {
  if (decoded.ok) throw new Error(`expected an error, got ${JSON.stringify(decoded.value)}`);
  return decoded.error.error;
}

/** A Place frame written byte by byte, independently of encodePlace, so layout bugs cannot cancel out. */
function rawPlace(nonce: number, count: number, pixels: readonly Pixel[], extraBytes = 0): Uint8Array {
  const bytes = new Uint8Array(7 + pixels.length * 5 + extraBytes);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, 0x02);
  view.setUint32(1, nonce);
  view.setUint16(5, count);
  pixels.forEach((p, i) => {
    view.setUint16(7 + i * 5, p.x);
    view.setUint16(9 + i * 5, p.y);
    view.setUint8(11 + i * 5, p.colour);
  });
  return bytes;
}

function pixelsAt(count: number, seed = 0): Pixel[] {
  return Array.from({ length: count }, (_, i) => ({
    x: (i * 37 + seed) % BOUNDS.width,
    y: (i * 11 + seed) % BOUNDS.height,
    colour: (i + seed) % BOUNDS.paletteSize,
  }));
}

/** Copies `bytes` into a bigger buffer at an odd offset: decoders must honour a view's byteOffset. */
function atOffset(bytes: Uint8Array, offset = 3): Uint8Array {
  const buffer = new Uint8Array(offset + bytes.length + 5).fill(0xee);
  buffer.set(bytes, offset);
  return buffer.subarray(offset, offset + bytes.length);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function helloFields(
  overrides: Partial<Omit<ServerHello, "op" | "version">> = {},
): Omit<ServerHello, "op" | "version"> {
  return {
    width: 1000,
    height: 700,
    seq: 0xdeadbeef,
    online: 4321,
    rateLimit: { pixelsPerSecond: 12, burst: 345 },
    maxPlacePixels: MAX_PLACE_PIXELS,
    palette: [...DEFAULT_PALETTE],
    region: "eu-west",
    isolateId: "iso-7f3a",
    ...overrides,
  };
}

describe("constants", () => {
  it("[P4] MAX_CLIENT_FRAME_BYTES is exactly one full Place frame", () => {
    expect(MAX_CLIENT_FRAME_BYTES).toBe(7 + MAX_PLACE_PIXELS * PIXEL_BYTES);
    expect(encodePlace(1, pixelsAt(MAX_PLACE_PIXELS)).length).toBe(MAX_CLIENT_FRAME_BYTES);
  });

  it("opcodes are distinct", () => {
    const ops = Object.values(Op);
    expect(new Set(ops).size).toBe(ops.length);
  });

  it("the default palette has 32 distinct 24-bit colours", () => {
    expect(DEFAULT_PALETTE).toHaveLength(32);
    expect(new Set(DEFAULT_PALETTE).size).toBe(32);
    for (const c of DEFAULT_PALETTE) expect(c >= 0 && c <= 0xffffff).toBe(true);
  });
});

describe("[P1] server hello", () => {
  it("[P1] round-trips version, size, palette, seq, rate limit, max place pixels, region and isolate id", () => {
    const fields = helloFields();
    const decoded = decodedValue(decodeServerMessage(encodeServerHello(fields)));
    expect(decoded).toEqual({ op: Op.ServerHello, version: PROTOCOL_VERSION, ...fields });
  });

  it("[P1] round-trips extreme values: u16/u32 maxima, one- and 255-colour palettes, empty and UTF-8 labels", () => {
    const palette255 = Array.from({ length: 255 }, (_, i) => (i * 0x010203) & 0xffffff);
    const cases = [
      helloFields({
        width: 0xffff,
        height: 1,
        seq: 0xffffffff,
        rateLimit: { pixelsPerSecond: 0xffff, burst: 0xffff },
        maxPlacePixels: 0xffff,
        palette: palette255,
        region: "",
        isolateId: "",
      }),
      helloFields({ palette: [0xabcdef], region: "Zürich ☃", isolateId: "é".repeat(32) }),
      helloFields({ seq: 0, region: "x".repeat(MAX_LABEL_BYTES), isolateId: "y".repeat(MAX_LABEL_BYTES) }),
    ];
    for (const fields of cases) {
      expect(decodedValue(decodeServerMessage(encodeServerHello(fields)))).toEqual({
        op: Op.ServerHello,
        version: PROTOCOL_VERSION,
        ...fields,
      });
    }
  });

  it("[P1] lays out the header big-endian at fixed offsets", () => {
    const bytes = encodeServerHello(
      helloFields({ width: 0x0102, height: 0x0304, seq: 0x05060708, palette: [0x112233], region: "r", isolateId: "" }),
    );
    expect([...bytes.subarray(0, 10)]).toEqual([Op.ServerHello, PROTOCOL_VERSION, 1, 2, 3, 4, 5, 6, 7, 8]);
    // palette count and colour, then the two length-prefixed labels
    expect([...bytes.subarray(20)]).toEqual([1, 0x11, 0x22, 0x33, 1, "r".charCodeAt(0), 0]);
  });

  it("[P1] a label over MAX_LABEL_BYTES bytes of UTF-8 throws on encode", () => {
    // 33 two-byte characters: 33 characters, but 66 bytes
    expect(() => encodeServerHello(helloFields({ region: "é".repeat(33) }))).toThrow(RangeError);
    expect(() => encodeServerHello(helloFields({ isolateId: "z".repeat(MAX_LABEL_BYTES + 1) }))).toThrow(RangeError);
  });

  it("[P1] an empty palette or one over 255 colours throws on encode", () => {
    expect(() => encodeServerHello(helloFields({ palette: [] }))).toThrow(RangeError);
    expect(() => encodeServerHello(helloFields({ palette: new Array(256).fill(0) }))).toThrow(RangeError);
  });

  it("[P1] rejects truncated hellos, a zero-colour palette and labels that run past the end", () => {
    const bytes = encodeServerHello(helloFields({ palette: [1, 2], region: "abc", isolateId: "def" }));
    for (let length = 2; length < bytes.length; length++) {
      expect(errorOf(decodeServerMessage(bytes.subarray(0, length)))).toBe(ErrorCode.BadFrame);
    }
    const noColours = new Uint8Array(bytes.subarray(0, 23));
    noColours[20] = 0;
    noColours[21] = 0;
    noColours[22] = 0;
    expect(errorOf(decodeServerMessage(noColours))).toBe(ErrorCode.BadFrame);
  });

  it("[P1] rejects a label that is not UTF-8", () => {
    const bytes = encodeServerHello(helloFields({ palette: [1], region: "ab", isolateId: "" }));
    const regionAt = 20 + 1 + 3 + 1;
    expect(bytes[regionAt]).toBe("a".charCodeAt(0));
    bytes[regionAt] = 0xff;
    expect(errorOf(decodeServerMessage(bytes))).toBe(ErrorCode.BadFrame);
  });

  // Regression: a TextDecoder built with ignoreBOM: false strips a leading U+FEFF from every label.
  it("[P1] a label beginning with U+FEFF round-trips exactly", () => {
    const fields = helloFields({ region: "\uFEFFeu", isolateId: "\uFEFF" });
    expect(decodedValue(decodeServerMessage(encodeServerHello(fields)))).toMatchObject({
      region: "\uFEFFeu",
      isolateId: "\uFEFF",
    });
  });
});

describe("[P2] hello versions", () => {
  it("[P2] bytes 0–1 of both hellos are the opcode and the protocol version", () => {
    expect([...encodeClientHello(0).subarray(0, 2)]).toEqual([0x01, PROTOCOL_VERSION]);
    expect([...encodeServerHello(helloFields()).subarray(0, 2)]).toEqual([0x81, PROTOCOL_VERSION]);
  });

  it("[P2] a client hello round-trips its resume sequence, big-endian", () => {
    const bytes = encodeClientHello(0x01020304);
    expect([...bytes]).toEqual([0x01, PROTOCOL_VERSION, 1, 2, 3, 4]);
    expect(decodedValue(decodeClientMessage(bytes, BOUNDS))).toEqual({
      op: Op.ClientHello,
      version: PROTOCOL_VERSION,
      resumeSeq: 0x01020304,
    });
    expect(decodedValue(decodeClientMessage(encodeClientHello(), BOUNDS))).toMatchObject({ resumeSeq: 0 });
    expect(decodedValue(decodeClientMessage(encodeClientHello(0xffffffff), BOUNDS))).toMatchObject({
      resumeSeq: 0xffffffff,
    });
  });

  it("[P2] a client hello of another version is VersionMismatch whatever its length", () => {
    for (const version of [0, PROTOCOL_VERSION + 1, 255]) {
      for (const length of [2, 5, 6, 7, 40, MAX_CLIENT_FRAME_BYTES]) {
        const bytes = new Uint8Array(length);
        bytes[0] = Op.ClientHello;
        bytes[1] = version;
        expect(errorOf(decodeClientMessage(bytes, BOUNDS)), `v${version}, ${length} bytes`).toBe(
          ErrorCode.VersionMismatch,
        );
      }
    }
    expect(errorOf(decodeClientMessage(encodeClientHello(7, PROTOCOL_VERSION + 1), BOUNDS))).toBe(
      ErrorCode.VersionMismatch,
    );
  });

  it("[P2] a current-version client hello of the wrong length, or with no version byte, is BadFrame", () => {
    for (const length of [1, 2, 5, 7, 12]) {
      const bytes = new Uint8Array(length);
      bytes[0] = Op.ClientHello;
      if (length > 1) bytes[1] = PROTOCOL_VERSION;
      expect(errorOf(decodeClientMessage(bytes, BOUNDS)), `${length} bytes`).toBe(ErrorCode.BadFrame);
    }
  });

  it("[P2] a server hello of another version is VersionMismatch whatever its length", () => {
    for (const version of [0, PROTOCOL_VERSION + 1, 255]) {
      for (const length of [2, 3, 21, 100]) {
        const bytes = new Uint8Array(length);
        bytes[0] = Op.ServerHello;
        bytes[1] = version;
        expect(errorOf(decodeServerMessage(bytes)), `v${version}, ${length} bytes`).toBe(ErrorCode.VersionMismatch);
      }
    }
    const future = encodeServerHello(helloFields());
    future[1] = PROTOCOL_VERSION + 1;
    expect(errorOf(decodeServerMessage(future))).toBe(ErrorCode.VersionMismatch);
  });

  it("[P2] a one-byte server hello is BadFrame", () => {
    expect(errorOf(decodeServerMessage(new Uint8Array([Op.ServerHello])))).toBe(ErrorCode.BadFrame);
  });
});

describe("[P4] client frame level", () => {
  it("[P4] an empty frame is BadFrame", () => {
    expect(errorOf(decodeClientMessage(new Uint8Array(0), BOUNDS))).toBe(ErrorCode.BadFrame);
    expect(errorOf(decodeClientMessage(new ArrayBuffer(0), BOUNDS))).toBe(ErrorCode.BadFrame);
  });

  it("[P4] a frame longer than MAX_CLIENT_FRAME_BYTES is TooLarge, whatever its opcode", () => {
    for (const op of [Op.ClientHello, Op.Place, Op.CatchUp, 0x00, 0x7f]) {
      const bytes = new Uint8Array(MAX_CLIENT_FRAME_BYTES + 1);
      bytes[0] = op;
      expect(errorOf(decodeClientMessage(bytes, BOUNDS)), `op ${op}`).toBe(ErrorCode.TooLarge);
    }
    expect(errorOf(decodeClientMessage(new Uint8Array(1 << 20), BOUNDS))).toBe(ErrorCode.TooLarge);
  });

  it("[P4] an unknown opcode is BadFrame, including server opcodes sent by a client", () => {
    const known = new Set<number>([Op.ClientHello, Op.Place, Op.CatchUp]);
    for (let op = 0; op < 256; op++) {
      if (known.has(op)) continue;
      const bytes = new Uint8Array(6);
      bytes[0] = op;
      bytes[1] = PROTOCOL_VERSION;
      expect(errorOf(decodeClientMessage(bytes, BOUNDS)), `op ${op}`).toBe(ErrorCode.BadFrame);
    }
  });

  it("[P4] accepts an ArrayBuffer, a DataView and a Uint8Array at a non-zero offset alike", () => {
    const bytes = encodePlace(99, pixelsAt(3));
    const expected = { op: Op.Place, nonce: 99, pixels: pixelsAt(3) };
    const copy = new Uint8Array(bytes);
    expect(decodedValue(decodeClientMessage(copy.buffer, BOUNDS))).toEqual(expected);
    const shifted = atOffset(bytes);
    expect(decodedValue(decodeClientMessage(shifted, BOUNDS))).toEqual(expected);
    expect(
      decodedValue(decodeClientMessage(new DataView(shifted.buffer, shifted.byteOffset, shifted.byteLength), BOUNDS)),
    ).toEqual(expected);
  });
});

describe("[P5] Place layout", () => {
  it("[P5] encodes op u8, nonce u32, count u16, then x u16, y u16, colour u8 per pixel, big-endian", () => {
    const bytes = encodePlace(0x0a0b0c0d, [
      { x: 0x0102, y: 0x0304, colour: 5 },
      { x: 6, y: 7, colour: 8 },
    ]);
    expect([...bytes]).toEqual([0x02, 0x0a, 0x0b, 0x0c, 0x0d, 0, 2, 1, 2, 3, 4, 5, 0, 6, 0, 7, 8]);
  });

  it("[P5] round-trips nonce and pixels in order, including the u32 nonce extremes", () => {
    for (const nonce of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
      const pixels = pixelsAt(5, nonce % 7);
      expect(decodedValue(decodeClientMessage(encodePlace(nonce, pixels), BOUNDS))).toEqual({
        op: Op.Place,
        nonce,
        pixels,
      });
    }
  });

  it("[P5] a negative nonce is written as its u32 bit pattern", () => {
    expect(decodedValue(decodeClientMessage(encodePlace(-1, pixelsAt(1)), BOUNDS))).toMatchObject({
      nonce: 0xffffffff,
    });
  });

  it("[P5] decodes a hand-built frame, so the layout does not depend on encodePlace", () => {
    const pixels = [
      { x: 299, y: 0, colour: 15 },
      { x: 0, y: 199, colour: 0 },
    ];
    expect(decodedValue(decodeClientMessage(rawPlace(0x01020304, 2, pixels), BOUNDS))).toEqual({
      op: Op.Place,
      nonce: 0x01020304,
      pixels,
    });
  });

  it("[P5] MAX_PLACE_PIXELS pixels are accepted", () => {
    const pixels = pixelsAt(MAX_PLACE_PIXELS);
    expect(decodedValue(decodeClientMessage(encodePlace(4, pixels), BOUNDS))).toMatchObject({ pixels });
  });

  it("[P5] a Place with count 0 is BadFrame", () => {
    expect(errorOf(decodeClientMessage(encodePlace(1, []), BOUNDS))).toBe(ErrorCode.BadFrame);
    expect(errorOf(decodeClientMessage(rawPlace(1, 0, []), BOUNDS))).toBe(ErrorCode.BadFrame);
  });

  it("[P5] a Place whose count is over MAX_PLACE_PIXELS is TooLarge, however long the frame", () => {
    const count = MAX_PLACE_PIXELS + 1;
    // header only; and as many pixels as fit under the frame limit
    expect(errorOf(decodeClientMessage(rawPlace(1, count, []), BOUNDS))).toBe(ErrorCode.TooLarge);
    expect(errorOf(decodeClientMessage(rawPlace(1, count, pixelsAt(MAX_PLACE_PIXELS)), BOUNDS))).toBe(
      ErrorCode.TooLarge,
    );
    expect(errorOf(decodeClientMessage(rawPlace(1, 0xffff, pixelsAt(1)), BOUNDS))).toBe(ErrorCode.TooLarge);
    // and one pixel too many, as encodePlace would write it, is over the frame limit
    expect(errorOf(decodeClientMessage(encodePlace(1, pixelsAt(count)), BOUNDS))).toBe(ErrorCode.TooLarge);
  });

  it("[P5] a Place whose count disagrees with its length is BadFrame", () => {
    const three = pixelsAt(3);
    expect(errorOf(decodeClientMessage(rawPlace(1, 2, three), BOUNDS))).toBe(ErrorCode.BadFrame);
    expect(errorOf(decodeClientMessage(rawPlace(1, 4, three), BOUNDS))).toBe(ErrorCode.BadFrame);
    expect(errorOf(decodeClientMessage(rawPlace(1, 3, three, 1), BOUNDS))).toBe(ErrorCode.BadFrame);
    const full = encodePlace(1, three);
    expect(errorOf(decodeClientMessage(full.subarray(0, full.length - 1), BOUNDS))).toBe(ErrorCode.BadFrame);
  });

  it("[P5] a Place shorter than its 7-byte header is BadFrame", () => {
    const full = encodePlace(1, pixelsAt(1));
    for (let length = 1; length < 7; length++) {
      expect(errorOf(decodeClientMessage(full.subarray(0, length), BOUNDS)), `${length} bytes`).toBe(
        ErrorCode.BadFrame,
      );
    }
  });

  it("[P5] placeNonce reads the nonce of any Place with a full nonce, and 0 otherwise", () => {
    expect(placeNonce(encodePlace(0xcafef00d, pixelsAt(2)))).toBe(0xcafef00d);
    // even a frame that will be rejected, so the error can carry the nonce back
    expect(placeNonce(rawPlace(77, 0, []))).toBe(77);
    expect(placeNonce(rawPlace(77, 0, []).subarray(0, 5))).toBe(77);
    expect(placeNonce(atOffset(encodePlace(78, pixelsAt(1))))).toBe(78);
    expect(placeNonce(rawPlace(77, 0, []).subarray(0, 4))).toBe(0);
    expect(placeNonce(encodeCatchUp(5))).toBe(0);
    expect(placeNonce(new Uint8Array(0))).toBe(0);
  });

  it("encodePlace refuses more pixels than a u16 count can say", () => {
    expect(() => encodePlace(1, new Array(0x10000).fill({ x: 0, y: 0, colour: 0 }))).toThrow(RangeError);
  });
});

describe("[P6] a Place is accepted or rejected whole", () => {
  it("[P6] one bad pixel anywhere rejects the whole frame", () => {
    for (const badAt of [0, 5, 9]) {
      const pixels = pixelsAt(10);
      pixels[badAt] = { x: BOUNDS.width, y: 0, colour: 0 };
      const decoded = decodeClientMessage(encodePlace(1, pixels), BOUNDS);
      expect(decoded.ok).toBe(false);
      expect(errorOf(decoded)).toBe(ErrorCode.OutOfBounds);
      expect(decoded.ok ? "" : decoded.error.message).toContain(`pixel ${badAt}`);
    }
    const colours = pixelsAt(10);
    colours[9] = { x: 0, y: 0, colour: BOUNDS.paletteSize };
    expect(errorOf(decodeClientMessage(encodePlace(1, colours), BOUNDS))).toBe(ErrorCode.BadColour);
  });
});

describe("[P7] pixel bounds and palette", () => {
  it("[P7] boundary values width-1, height-1 and paletteSize-1 are accepted", () => {
    const pixels = [
      { x: BOUNDS.width - 1, y: BOUNDS.height - 1, colour: BOUNDS.paletteSize - 1 },
      { x: 0, y: 0, colour: 0 },
    ];
    expect(decodedValue(decodeClientMessage(encodePlace(1, pixels), BOUNDS))).toMatchObject({ pixels });
  });

  it("[P7] x >= width or y >= height is OutOfBounds", () => {
    for (const p of [
      { x: BOUNDS.width, y: 0, colour: 0 },
      { x: 0, y: BOUNDS.height, colour: 0 },
      { x: 0xffff, y: 0xffff, colour: 0 },
      // a square canvas test would miss a swapped comparison: y = 250 fits the width but not the height
      { x: 0, y: 250, colour: 0 },
    ]) {
      expect(errorOf(decodeClientMessage(encodePlace(1, [p]), BOUNDS)), JSON.stringify(p)).toBe(ErrorCode.OutOfBounds);
    }
    expect(decodedValue(decodeClientMessage(encodePlace(1, [{ x: 250, y: 0, colour: 0 }]), BOUNDS))).toMatchObject({
      nonce: 1,
    });
  });

  it("[P7] colour >= paletteSize is BadColour", () => {
    for (const colour of [BOUNDS.paletteSize, BOUNDS.paletteSize + 1, 255]) {
      expect(errorOf(decodeClientMessage(encodePlace(1, [{ x: 1, y: 1, colour }]), BOUNDS))).toBe(ErrorCode.BadColour);
    }
  });

  it("[P7] a one-colour, one-pixel canvas accepts only (0, 0) in colour 0", () => {
    const tiny: CanvasBounds = { width: 1, height: 1, paletteSize: 1 };
    expect(decodeClientMessage(encodePlace(1, [{ x: 0, y: 0, colour: 0 }]), tiny).ok).toBe(true);
    expect(errorOf(decodeClientMessage(encodePlace(1, [{ x: 1, y: 0, colour: 0 }]), tiny))).toBe(ErrorCode.OutOfBounds);
    expect(errorOf(decodeClientMessage(encodePlace(1, [{ x: 0, y: 0, colour: 1 }]), tiny))).toBe(ErrorCode.BadColour);
  });
});

describe("[P8] CatchUp and Resync", () => {
  it("[P8] CatchUp is exactly 5 bytes and round-trips fromSeq", () => {
    const bytes = encodeCatchUp(0x01020304);
    expect([...bytes]).toEqual([Op.CatchUp, 1, 2, 3, 4]);
    expect(decodedValue(decodeClientMessage(bytes, BOUNDS))).toEqual({ op: Op.CatchUp, fromSeq: 0x01020304 });
    expect(decodedValue(decodeClientMessage(encodeCatchUp(0xffffffff), BOUNDS))).toEqual({
      op: Op.CatchUp,
      fromSeq: 0xffffffff,
    });
  });

  it("[P8] a CatchUp of any other length is BadFrame", () => {
    for (const length of [1, 4, 6, 9]) {
      const bytes = new Uint8Array(length);
      bytes[0] = Op.CatchUp;
      expect(errorOf(decodeClientMessage(bytes, BOUNDS)), `${length} bytes`).toBe(ErrorCode.BadFrame);
    }
  });

  it("[P8] Resync is exactly 5 bytes and round-trips seq", () => {
    const bytes = encodeResync(0x0a0b0c0d);
    expect([...bytes]).toEqual([Op.Resync, 0x0a, 0x0b, 0x0c, 0x0d]);
    expect(decodedValue(decodeServerMessage(bytes))).toEqual({ op: Op.Resync, seq: 0x0a0b0c0d });
  });

  it("[P8] a Resync of any other length is BadFrame", () => {
    for (const length of [1, 4, 6, 9]) {
      const bytes = new Uint8Array(length);
      bytes[0] = Op.Resync;
      expect(errorOf(decodeServerMessage(bytes)), `${length} bytes`).toBe(ErrorCode.BadFrame);
    }
  });
});

describe("[P9] errors", () => {
  it("[P9] fatal errors are exactly VersionMismatch, Flooded, Unavailable and Internal", () => {
    expect([...FATAL_ERRORS].sort((a, b) => a - b)).toEqual(
      [ErrorCode.VersionMismatch, ErrorCode.Flooded, ErrorCode.Unavailable, ErrorCode.Internal].sort((a, b) => a - b),
    );
  });

  it("[P9] a fatal error closes with 4000 + code and its name as a valid close reason", () => {
    expect(closeCodeFor(ErrorCode.VersionMismatch)).toBe(4006);
    expect(closeCodeFor(ErrorCode.Flooded)).toBe(4008);
    expect(closeCodeFor(ErrorCode.Unavailable)).toBe(4009);
    expect(closeCodeFor(ErrorCode.Internal)).toBe(4010);
    for (const code of ALL_CODES) {
      // application close codes are 4000–4999; a close reason is at most 123 bytes of UTF-8
      expect(closeCodeFor(code)).toBeGreaterThanOrEqual(4000);
      expect(closeCodeFor(code)).toBeLessThan(5000);
      expect(new TextEncoder().encode(ERROR_NAMES[code]).length).toBeLessThanOrEqual(123);
    }
  });

  it("[P9] every error code has a distinct snake_case name", () => {
    const names = ALL_CODES.map((code) => ERROR_NAMES[code]);
    expect(new Set(names).size).toBe(ALL_CODES.length);
    for (const name of names) expect(name).toMatch(/^[a-z]+(_[a-z]+)*$/);
    expect(ERROR_NAMES[ErrorCode.VersionMismatch]).toBe("version_mismatch");
    expect(ERROR_NAMES[ErrorCode.Unavailable]).toBe("canvas_unavailable");
  });

  it("[P9] an Error frame round-trips code, nonce, retryAfterMs and message for every code", () => {
    for (const code of ALL_CODES) {
      const bytes = encodeError(code, `about ${ERROR_NAMES[code]} — ünïcode`, 0x80000001, 1234);
      expect(decodedValue(decodeServerMessage(bytes))).toEqual({
        op: Op.Error,
        code,
        nonce: 0x80000001,
        retryAfterMs: 1234,
        message: `about ${ERROR_NAMES[code]} — ünïcode`,
      });
    }
  });

  it("[P9] nonce and retryAfterMs default to 0; an empty message round-trips", () => {
    const bytes = encodeError(ErrorCode.BadFrame, "");
    expect(bytes.length).toBe(11);
    expect(decodedValue(decodeServerMessage(bytes))).toEqual({
      op: Op.Error,
      code: ErrorCode.BadFrame,
      nonce: 0,
      retryAfterMs: 0,
      message: "",
    });
  });

  it("[P9] a message over 200 bytes is truncated to its first 200 bytes", () => {
    const long = "abcdefghij".repeat(30);
    const decoded = decodedValue(decodeServerMessage(encodeError(ErrorCode.Internal, long)));
    expect(decoded).toMatchObject({ message: long.slice(0, 200) });
    const exact = "q".repeat(200);
    expect(decodedValue(decodeServerMessage(encodeError(ErrorCode.Internal, exact)))).toMatchObject({ message: exact });
  });

  // Regression: cutting at byte 200 inside a UTF-8 sequence made the fatal decoder reject the frame.
  it("[P9] a message truncated inside a multi-byte character still decodes, cut at a character boundary", () => {
    // "€" is 3 bytes of UTF-8, so byte 200 falls two bytes into the 67th
    const original = "€".repeat(100);
    const decoded = decodedValue(decodeServerMessage(encodeError(ErrorCode.RateLimited, original, 9, 50)));
    expect(decoded).toMatchObject({ op: Op.Error, code: ErrorCode.RateLimited, nonce: 9, retryAfterMs: 50 });
    const message = decoded.op === Op.Error ? decoded.message : "";
    expect(original.startsWith(message)).toBe(true);
    expect(new TextEncoder().encode(message).length).toBe(198); // 66 whole characters
  });

  it("[P9] retryAfterMs is rounded up and clamped to a u32", () => {
    const retry = (ms: number) => {
      const decoded = decodedValue(decodeServerMessage(encodeError(ErrorCode.RateLimited, "", 0, ms)));
      return decoded.op === Op.Error ? decoded.retryAfterMs : Number.NaN;
    };
    expect(retry(0.01)).toBe(1);
    expect(retry(1)).toBe(1);
    expect(retry(1.5)).toBe(2);
    expect(retry(999.0001)).toBe(1000);
    expect(retry(-5)).toBe(0);
    expect(retry(0xffffffff)).toBe(0xffffffff);
    expect(retry(0xffffffff + 0.5)).toBe(0xffffffff);
    expect(retry(1e12)).toBe(0xffffffff);
    expect(retry(Number.POSITIVE_INFINITY)).toBe(0xffffffff);
  });

  it("[P9] rejects an Error frame with an unknown code, a truncated header, or a message length that disagrees", () => {
    for (const code of [0, ErrorCode.Banned + 1, 255]) {
      const bytes = encodeError(ErrorCode.BadFrame, "x");
      bytes[1] = code;
      expect(errorOf(decodeServerMessage(bytes)), `code ${code}`).toBe(ErrorCode.BadFrame);
    }
    const bytes = encodeError(ErrorCode.BadFrame, "hello");
    for (let length = 1; length < bytes.length; length++) {
      expect(errorOf(decodeServerMessage(bytes.subarray(0, length))), `${length} bytes`).toBe(ErrorCode.BadFrame);
    }
    const trailing = new Uint8Array(bytes.length + 1);
    trailing.set(bytes);
    expect(errorOf(decodeServerMessage(trailing))).toBe(ErrorCode.BadFrame);
  });
});

describe("[P10] snapshot", () => {
  const snapshot = {
    width: 7,
    height: 3,
    seq: 0x01020304,
    pixels: Uint8Array.from({ length: 21 }, (_, i) => i % 16),
  };

  it("[P10] encodeSnapshot writes magic, version, size and seq in a 16-byte header", () => {
    const bytes = encodeSnapshot(snapshot);
    expect(bytes.length).toBe(SNAPSHOT_HEADER_BYTES + 21);
    expect(new DataView(bytes.buffer).getUint32(0)).toBe(SNAPSHOT_MAGIC);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe("PXPG");
    expect(bytes[4]).toBe(PROTOCOL_VERSION);
    expect([...bytes.subarray(6, 14)]).toEqual([0, 7, 0, 3, 1, 2, 3, 4]);
    expect([...bytes.subarray(SNAPSHOT_HEADER_BYTES)]).toEqual([...snapshot.pixels]);
  });

  it("[P10] encodeSnapshot / decodeSnapshot round-trip", () => {
    const decoded = decodedValue(decodeSnapshot(encodeSnapshot(snapshot), 16));
    expect(decoded.width).toBe(7);
    expect(decoded.height).toBe(3);
    expect(decoded.seq).toBe(0x01020304);
    expect([...decoded.pixels]).toEqual([...snapshot.pixels]);
  });

  it("[P10] encodeSnapshot copies the pixels, so later changes to the canvas do not leak in", () => {
    const pixels = new Uint8Array(4);
    const bytes = encodeSnapshot({ width: 2, height: 2, seq: 1, pixels });
    pixels[0] = 9;
    expect(bytes[SNAPSHOT_HEADER_BYTES]).toBe(0);
  });

  it("[P10] decodes a snapshot held at a non-zero offset of a bigger buffer", () => {
    const decoded = decodedValue(decodeSnapshot(atOffset(encodeSnapshot(snapshot), 5), 16));
    expect([...decoded.pixels]).toEqual([...snapshot.pixels]);
    expect(decoded.seq).toBe(0x01020304);
  });

  it("[P10] rejects bad magic and a short header", () => {
    const bytes = encodeSnapshot(snapshot);
    bytes[0] = 0x51;
    expect(errorOf(decodeSnapshot(bytes, 16))).toBe(ErrorCode.BadFrame);
    expect(errorOf(decodeSnapshot(encodeSnapshot(snapshot).subarray(0, 15), 16))).toBe(ErrorCode.BadFrame);
    expect(errorOf(decodeSnapshot(new Uint8Array(0), 16))).toBe(ErrorCode.BadFrame);
  });

  it("[P10] rejects a length that disagrees with width × height", () => {
    const bytes = encodeSnapshot(snapshot);
    expect(errorOf(decodeSnapshot(bytes.subarray(0, bytes.length - 1), 16))).toBe(ErrorCode.BadFrame);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(errorOf(decodeSnapshot(longer, 16))).toBe(ErrorCode.BadFrame);
    const wider = encodeSnapshot(snapshot);
    wider[7] = 8;
    expect(errorOf(decodeSnapshot(wider, 16))).toBe(ErrorCode.BadFrame);
  });

  it("[P10] rejects a pixel outside the palette, and accepts paletteSize - 1", () => {
    const pixels = new Uint8Array(21);
    pixels[20] = 15;
    expect(decodeSnapshot(encodeSnapshot({ ...snapshot, pixels }), 16).ok).toBe(true);
    pixels[20] = 16;
    expect(errorOf(decodeSnapshot(encodeSnapshot({ ...snapshot, pixels }), 16))).toBe(ErrorCode.BadColour);
  });

  it("[P10] rejects a snapshot of another protocol version", () => {
    const bytes = encodeSnapshot(snapshot);
    bytes[4] = PROTOCOL_VERSION + 1;
    expect(errorOf(decodeSnapshot(bytes, 16))).toBe(ErrorCode.VersionMismatch);
  });

  it("[P10] gzip then gunzip gives back the same bytes, and compresses a blank canvas well", async () => {
    const big = encodeSnapshot({ width: 500, height: 500, seq: 42, pixels: new Uint8Array(250_000) });
    const zipped = await gzip(big);
    expect(zipped.length).toBeLessThan(big.length / 100);
    expect([zipped[0], zipped[1]]).toEqual([0x1f, 0x8b]); // the gzip magic
    const unzipped = await gunzip(zipped);
    expect(unzipped.length).toBe(big.length);
    expect(sameBytes(unzipped, big)).toBe(true);
    expect(decodedValue(decodeSnapshot(unzipped, 32)).seq).toBe(42);
    const small = encodeSnapshot(snapshot);
    expect([...(await gunzip(await gzip(small)))]).toEqual([...small]);
    expect([...(await gunzip(await gzip(new Uint8Array(0))))]).toEqual([]);
  });

  it("[P10] gunzip rejects bytes that are not gzip", async () => {
    await expect(gunzip(encodeSnapshot(snapshot))).rejects.toThrow();
  });
});

describe("[P13] Pixels frames", () => {
  it("[P13] round-trips seq and pixels, big-endian", () => {
    const pixels = [
      { x: 0x0102, y: 0x0003, colour: 4 },
      { x: 299, y: 199, colour: 15 },
    ];
    const bytes = encodePixels(0x0a0b0c0d, pixels);
    expect([...bytes.subarray(0, 12)]).toEqual([Op.Pixels, 0x0a, 0x0b, 0x0c, 0x0d, 0, 2, 1, 2, 0, 3, 4]);
    expect(decodedValue(decodeServerMessage(bytes, BOUNDS))).toEqual({ op: Op.Pixels, seq: 0x0a0b0c0d, pixels });
  });

  it("[P13] round-trips an empty frame and a full MAX_FRAME_PIXELS frame", () => {
    expect(decodedValue(decodeServerMessage(encodePixels(5, []), BOUNDS))).toEqual({
      op: Op.Pixels,
      seq: 5,
      pixels: [],
    });
    const pixels = pixelsAt(MAX_FRAME_PIXELS, 3);
    expect(decodedValue(decodeServerMessage(encodePixels(6, pixels), BOUNDS))).toEqual({
      op: Op.Pixels,
      seq: 6,
      pixels,
    });
  });

  it("[P13] encodePixels refuses more than MAX_FRAME_PIXELS pixels", () => {
    expect(() => encodePixels(1, pixelsAt(MAX_FRAME_PIXELS + 1))).toThrow(RangeError);
  });

  it("[P13] a frame with a pixel out of the given bounds or palette is rejected", () => {
    const bytes = encodePixels(1, [{ x: 10, y: 10, colour: 3 }]);
    expect(decodeServerMessage(bytes, { width: 11, height: 11, paletteSize: 4 }).ok).toBe(true);
    expect(errorOf(decodeServerMessage(bytes, { width: 10, height: 11, paletteSize: 4 }))).toBe(ErrorCode.OutOfBounds);
    expect(errorOf(decodeServerMessage(bytes, { width: 11, height: 10, paletteSize: 4 }))).toBe(ErrorCode.OutOfBounds);
    expect(errorOf(decodeServerMessage(bytes, { width: 11, height: 11, paletteSize: 3 }))).toBe(ErrorCode.BadColour);
  });

  it("[P13] Pixels before a hello (no bounds) are BadFrame", () => {
    expect(errorOf(decodeServerMessage(encodePixels(1, pixelsAt(1))))).toBe(ErrorCode.BadFrame);
  });

  it("[P13] a Pixels frame whose count disagrees with its length is BadFrame", () => {
    const bytes = encodePixels(1, pixelsAt(3));
    for (const length of [1, 6, bytes.length - 1]) {
      expect(errorOf(decodeServerMessage(bytes.subarray(0, length), BOUNDS)), `${length} bytes`).toBe(
        ErrorCode.BadFrame,
      );
    }
    const longer = new Uint8Array(bytes.length + 5);
    longer.set(bytes);
    expect(errorOf(decodeServerMessage(longer, BOUNDS))).toBe(ErrorCode.BadFrame);
  });

  it("[P13] pixelsFrameSeq reads the seq without decoding, and is undefined for anything else", () => {
    expect(pixelsFrameSeq(encodePixels(0xfedcba98, pixelsAt(2)))).toBe(0xfedcba98);
    // without decoding: it does not look at the pixels, so out-of-bounds ones do not matter
    expect(pixelsFrameSeq(encodePixels(7, [{ x: 0xffff, y: 0xffff, colour: 255 }]))).toBe(7);
    expect(pixelsFrameSeq(atOffset(encodePixels(8, [])))).toBe(8);
    expect(pixelsFrameSeq(encodePixels(9, []).subarray(0, 6))).toBeUndefined();
    expect(pixelsFrameSeq(encodeResync(9))).toBeUndefined();
    expect(pixelsFrameSeq(encodePlace(9, pixelsAt(1)))).toBeUndefined();
    expect(pixelsFrameSeq(new Uint8Array(0))).toBeUndefined();
  });
});

describe("Presence", () => {
  it("round-trips the total and regions in order, with UTF-8 names", () => {
    const regions = [
      { region: "eu-west", count: 12 },
      { region: "São Paulo", count: 0 },
      { region: "東京", count: 0xffffffff },
      { region: "", count: 3 },
    ];
    expect(decodedValue(decodeServerMessage(encodePresence(123456, regions)))).toEqual({
      op: Op.Presence,
      total: 123456,
      regions,
    });
  });

  it("round-trips no regions and 255 regions", () => {
    expect(decodedValue(decodeServerMessage(encodePresence(0, [])))).toEqual({
      op: Op.Presence,
      total: 0,
      regions: [],
    });
    const many = Array.from({ length: 255 }, (_, i) => ({ region: `r${i}`, count: i * 1000 }));
    expect(decodedValue(decodeServerMessage(encodePresence(0xffffffff, many)))).toEqual({
      op: Op.Presence,
      total: 0xffffffff,
      regions: many,
    });
  });

  it("throws on encode for a region name over MAX_LABEL_BYTES bytes, or more than 255 regions", () => {
    expect(() => encodePresence(1, [{ region: "x".repeat(MAX_LABEL_BYTES), count: 1 }])).not.toThrow();
    expect(() => encodePresence(1, [{ region: "x".repeat(MAX_LABEL_BYTES + 1), count: 1 }])).toThrow(RangeError);
    expect(() => encodePresence(1, [{ region: "☃".repeat(22), count: 1 }])).toThrow(RangeError); // 66 bytes
    const tooMany = Array.from({ length: 256 }, () => ({ region: "r", count: 1 }));
    expect(() => encodePresence(1, tooMany)).toThrow(RangeError);
  });

  it("rejects a truncated frame, trailing bytes and a name that is not UTF-8", () => {
    const bytes = encodePresence(5, [
      { region: "ab", count: 2 },
      { region: "cd", count: 3 },
    ]);
    for (let length = 1; length < bytes.length; length++) {
      expect(errorOf(decodeServerMessage(bytes.subarray(0, length))), `${length} bytes`).toBe(ErrorCode.BadFrame);
    }
    const trailing = new Uint8Array(bytes.length + 1);
    trailing.set(bytes);
    expect(errorOf(decodeServerMessage(trailing))).toBe(ErrorCode.BadFrame);
    const notUtf8 = new Uint8Array(bytes);
    notUtf8[7] = 0xc3; // a lead byte followed by "b", which is not a continuation byte
    expect(errorOf(decodeServerMessage(notUtf8))).toBe(ErrorCode.BadFrame);
  });
});

describe("CanvasInfo", () => {
  it("round-trips width, height, seq and palette", () => {
    const info = { width: 1000, height: 1, seq: 0xffffffff, online: 123456, palette: [...DEFAULT_PALETTE] };
    expect(decodedValue(decodeCanvasInfo(encodeCanvasInfo(info)))).toEqual({ op: Op.CanvasInfo, ...info });
    const one = { width: 1, height: 4096, seq: 0, online: 0, palette: [0x123456] };
    expect(decodedValue(decodeCanvasInfo(atOffset(encodeCanvasInfo(one))))).toEqual({ op: Op.CanvasInfo, ...one });
  });

  it("rejects another opcode, truncation, trailing bytes, an empty palette and an empty canvas", () => {
    const bytes = encodeCanvasInfo({ width: 10, height: 10, seq: 1, online: 0, palette: [1, 2] });
    for (let length = 0; length < bytes.length; length++) {
      expect(errorOf(decodeCanvasInfo(bytes.subarray(0, length))), `${length} bytes`).toBe(ErrorCode.BadFrame);
    }
    const trailing = new Uint8Array(bytes.length + 1);
    trailing.set(bytes);
    expect(errorOf(decodeCanvasInfo(trailing))).toBe(ErrorCode.BadFrame);
    const wrongOp = new Uint8Array(bytes);
    wrongOp[0] = Op.ServerHello;
    expect(errorOf(decodeCanvasInfo(wrongOp))).toBe(ErrorCode.BadFrame);
    // An empty palette cannot be encoded; written by hand, it must not decode either.
    const emptyPalette = encodeCanvasInfo({ width: 10, height: 10, seq: 1, online: 0, palette: [1] }).subarray(0, 10);
    emptyPalette[9] = 0;
    expect(errorOf(decodeCanvasInfo(emptyPalette))).toBe(ErrorCode.BadFrame);
    expect(errorOf(decodeCanvasInfo(encodeCanvasInfo({ width: 0, height: 10, seq: 1, online: 0, palette: [1] })))).toBe(
      ErrorCode.BadFrame,
    );
    expect(errorOf(decodeCanvasInfo(encodeCanvasInfo({ width: 10, height: 0, seq: 1, online: 0, palette: [1] })))).toBe(
      ErrorCode.BadFrame,
    );
  });
});

describe("[P19] LiveHello", () => {
  it("[P19] lays out op u8, version u8, seq u32, big-endian, in 6 bytes, and round-trips", () => {
    expect([...encodeLiveHello(0x01020304)]).toEqual([0x87, PROTOCOL_VERSION, 1, 2, 3, 4]);
    for (const seq of [0, 1, 0x7fffffff, 0xffffffff]) {
      expect(decodedValue(decodeServerMessage(encodeLiveHello(seq)))).toEqual({
        op: Op.LiveHello,
        version: PROTOCOL_VERSION,
        seq,
      });
      expect(decodedValue(decodeServerMessage(atOffset(encodeLiveHello(seq)), BOUNDS))).toMatchObject({ seq });
    }
  });

  it("[P2] a live hello of another version is VersionMismatch whatever its length; a wrong length is BadFrame", () => {
    for (const version of [0, PROTOCOL_VERSION + 1, 255]) {
      for (const length of [2, 5, 6, 7, 40]) {
        const bytes = new Uint8Array(length);
        bytes[0] = Op.LiveHello;
        bytes[1] = version;
        expect(errorOf(decodeServerMessage(bytes)), `v${version}, ${length} bytes`).toBe(ErrorCode.VersionMismatch);
      }
    }
    expect(errorOf(decodeServerMessage(new Uint8Array([Op.LiveHello])))).toBe(ErrorCode.BadFrame);
    for (const length of [2, 5, 7, 12]) {
      const bytes = new Uint8Array(length);
      bytes[0] = Op.LiveHello;
      bytes[1] = PROTOCOL_VERSION;
      expect(errorOf(decodeServerMessage(bytes)), `${length} bytes`).toBe(ErrorCode.BadFrame);
    }
  });
});

describe("[P17] Limits", () => {
  it("[P17] lays out op u8, pixelsPerSecond u16, burst u16, flags u8, big-endian, in 6 bytes", () => {
    expect([...encodeLimits({ pixelsPerSecond: 0x1234, burst: 0xabcd, frozen: true })]).toEqual([
      0x86, 0x12, 0x34, 0xab, 0xcd, 0x01,
    ]);
    expect([...encodeLimits({ pixelsPerSecond: 10, burst: 20, frozen: false })]).toEqual([0x86, 0, 10, 0, 20, 0]);
    expect([...encodeLimits({ pixelsPerSecond: 10, burst: 20, frozen: false, banned: true })]).toEqual([
      0x86, 0, 10, 0, 20, 0x02,
    ]);
    expect(encodeLimits({ pixelsPerSecond: 10, burst: 20, frozen: true, banned: true })[5]).toBe(0x03);
  });

  it("[P17] round-trips the rate, the burst, frozen and banned", () => {
    for (const limits of [
      { pixelsPerSecond: 10, burst: 20, frozen: false, banned: false },
      { pixelsPerSecond: 10, burst: 20, frozen: true, banned: false },
      { pixelsPerSecond: 10, burst: 20, frozen: false, banned: true },
      { pixelsPerSecond: 10, burst: 20, frozen: true, banned: true },
      { pixelsPerSecond: 1, burst: 1, frozen: false, banned: false },
      { pixelsPerSecond: 0, burst: 0, frozen: true, banned: false },
      { pixelsPerSecond: 65535, burst: 65535, frozen: false, banned: false },
    ]) {
      expect(decodedValue(decodeServerMessage(encodeLimits(limits))), JSON.stringify(limits)).toEqual({
        op: Op.Limits,
        ...limits,
      });
      expect(decodedValue(decodeServerMessage(atOffset(encodeLimits(limits)), BOUNDS))).toEqual({
        op: Op.Limits,
        ...limits,
      });
    }
  });

  it("[P17] a rate or burst above 65535 is sent as 65535, not wrapped", () => {
    const decoded = decodedValue(
      decodeServerMessage(encodeLimits({ pixelsPerSecond: 65536, burst: 1_000_000, frozen: true })),
    );
    expect(decoded).toEqual({ op: Op.Limits, pixelsPerSecond: 65535, burst: 65535, frozen: true, banned: false });
  });

  it("[P17] a Limits frame of any other length is BadFrame", () => {
    const bytes = encodeLimits({ pixelsPerSecond: 10, burst: 20, frozen: false });
    for (let length = 1; length < bytes.length; length++) {
      expect(errorOf(decodeServerMessage(bytes.subarray(0, length))), `${length} bytes`).toBe(ErrorCode.BadFrame);
    }
    const trailing = new Uint8Array(bytes.length + 1);
    trailing.set(bytes);
    expect(errorOf(decodeServerMessage(trailing))).toBe(ErrorCode.BadFrame);
  });

  it("[P17] flags other than bits 0 and 1 are BadFrame", () => {
    for (const flags of [4, 5, 7, 0x80, 0x81, 0xff]) {
      const bytes = encodeLimits({ pixelsPerSecond: 10, burst: 20, frozen: false });
      bytes[5] = flags;
      expect(errorOf(decodeServerMessage(bytes)), `flags ${flags}`).toBe(ErrorCode.BadFrame);
    }
  });
});

describe("[P9] Frozen and Banned", () => {
  it("[P9] are named frozen and banned, and are not fatal", () => {
    expect(ErrorCode.Frozen).toBe(12);
    expect(ErrorCode.Banned).toBe(13);
    expect(ERROR_NAMES[ErrorCode.Frozen]).toBe("frozen");
    expect(ERROR_NAMES[ErrorCode.Banned]).toBe("banned");
    expect(FATAL_ERRORS.has(ErrorCode.Frozen)).toBe(false);
    expect(FATAL_ERRORS.has(ErrorCode.Banned)).toBe(false);
  });

  it("[P9] Error frames with them decode with their codes", () => {
    for (const code of [ErrorCode.Frozen, ErrorCode.Banned]) {
      const bytes = encodeError(code, ERROR_NAMES[code], 77, 0);
      expect(bytes[1]).toBe(code);
      const decoded = decodedValue(decodeServerMessage(bytes));
      expect(decoded).toEqual({ op: Op.Error, code, nonce: 77, retryAfterMs: 0, message: ERROR_NAMES[code] });
      expect(decoded.op === Op.Error && ERROR_NAMES[decoded.code]).toBe(ERROR_NAMES[code]);
    }
  });
});

describe("server decoder: unknown opcodes", () => {
  it("[P4] an empty frame or an opcode that is not a server opcode is BadFrame", () => {
    expect(errorOf(decodeServerMessage(new Uint8Array(0), BOUNDS))).toBe(ErrorCode.BadFrame);
    const known = new Set<number>([
      Op.ServerHello,
      Op.Pixels,
      Op.Presence,
      Op.Error,
      Op.Resync,
      Op.Limits,
      Op.LiveHello,
    ]);
    for (let op = 0; op < 256; op++) {
      if (known.has(op)) continue;
      const bytes = new Uint8Array(5);
      bytes[0] = op;
      expect(errorOf(decodeServerMessage(bytes, BOUNDS)), `op ${op}`).toBe(ErrorCode.BadFrame);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Fuzz: decoders meet hostile bytes every day; they must answer with a typed error, never throw.

function below(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

const OPCODES = Object.values(Op);

function randomBytes(random: () => number): Uint8Array {
  const bytes = new Uint8Array(below(random, 2001));
  for (let i = 0; i < bytes.length; i++) bytes[i] = below(random, 256);
  // Mostly a real opcode in front, so the fuzz gets past the first switch.
  if (bytes.length > 0 && random() < 0.8) bytes[0] = OPCODES[below(random, OPCODES.length)] ?? 0;
  if (bytes.length > 1 && random() < 0.3) bytes[1] = PROTOCOL_VERSION;
  // Sometimes a count that fits the length and pixels inside BOUNDS, so the decoders get past their
  // length and bounds checks and the accepting paths are fuzzed too.
  if (bytes.length > 6 && random() < 0.3) {
    const count = Math.floor((bytes.length - 7) / 5);
    bytes[5] = count >> 8;
    bytes[6] = count & 0xff;
    for (let at = 7; at + 5 <= bytes.length; at += 5) {
      bytes[at] = 0; // x < 256 < width
      bytes[at + 2] = 0;
      bytes[at + 3] = (bytes[at + 3] ?? 0) % BOUNDS.height;
      bytes[at + 4] = (bytes[at + 4] ?? 0) % BOUNDS.paletteSize;
    }
  }
  return bytes;
}

function validFrames(random: () => number): Uint8Array[] {
  const pixels = (n: number) =>
    Array.from({ length: n }, () => ({
      x: below(random, BOUNDS.width),
      y: below(random, BOUNDS.height),
      colour: below(random, BOUNDS.paletteSize),
    }));
  const w = 1 + below(random, 20);
  const h = 1 + below(random, 20);
  return [
    encodeClientHello(below(random, 2 ** 32)),
    encodePlace(below(random, 2 ** 32), pixels(1 + below(random, MAX_PLACE_PIXELS))),
    encodeCatchUp(below(random, 2 ** 32)),
    encodeServerHello(helloFields({ palette: DEFAULT_PALETTE.slice(0, 1 + below(random, 32)), region: "zürich" })),
    encodePixels(below(random, 2 ** 32), pixels(below(random, 300))),
    encodePresence(below(random, 1000), [
      { region: "eu", count: 1 },
      { region: "東京", count: 2 },
    ]),
    encodeError(ALL_CODES[below(random, ALL_CODES.length)] ?? ErrorCode.BadFrame, "nope ✗", 3, 4.5),
    encodeResync(below(random, 2 ** 32)),
    encodeCanvasInfo({ width: w, height: h, seq: 1, online: 0, palette: DEFAULT_PALETTE.slice(0, 4) }),
    encodeSnapshot({
      width: w,
      height: h,
      seq: 2,
      pixels: Uint8Array.from({ length: w * h }, () => below(random, BOUNDS.paletteSize)),
    }),
    encodeLimits({ pixelsPerSecond: below(random, 70_000), burst: below(random, 70_000), frozen: random() < 0.5 }),
  ];
}

function mutate(random: () => number, frame: Uint8Array): Uint8Array {
  switch (below(random, 4)) {
    case 0: // truncate
      return frame.slice(0, below(random, frame.length + 1));
    case 1: {
      // flip a few bytes
      const out = new Uint8Array(frame);
      const flips = 1 + below(random, 4);
      for (let i = 0; i < flips && out.length > 0; i++) out[below(random, out.length)] = below(random, 256);
      return out;
    }
    case 2: {
      // append junk
      const out = new Uint8Array(frame.length + 1 + below(random, 12));
      out.set(frame);
      for (let i = frame.length; i < out.length; i++) out[i] = below(random, 256);
      return out;
    }
    default: {
      // drop one byte from the middle
      if (frame.length === 0) return frame;
      const at = below(random, frame.length);
      const out = new Uint8Array(frame.length - 1);
      out.set(frame.subarray(0, at));
      out.set(frame.subarray(at + 1), at);
      return out;
    }
  }
}

function inBounds(p: Pixel, bounds: CanvasBounds): boolean {
  return (
    Number.isInteger(p.x) &&
    Number.isInteger(p.y) &&
    p.x >= 0 &&
    p.y >= 0 &&
    p.x < bounds.width &&
    p.y < bounds.height &&
    p.colour >= 0 &&
    p.colour < bounds.paletteSize
  );
}

const KNOWN_CODES = new Set<number>(ALL_CODES);

interface FuzzResult {
  /** How many decoders returned a value. */
  accepted: number;
  /** What was wrong, if anything; collected rather than asserted so the hot loop stays fast. */
  problem?: string;
}

/** Runs every decoder on `bytes`; an exception or an invalid value becomes a problem. */
function checkDecoders(bytes: Uint8Array): FuzzResult {
  let accepted = 0;
  const badCode = (d: Decoded<unknown>) => !d.ok && !KNOWN_CODES.has(d.error.error);
  try {
    const client = decodeClientMessage(bytes, BOUNDS);
    if (badCode(client)) return { accepted, problem: "client: unknown error code" };
    if (client.ok) {
      accepted++;
      const m = client.value;
      if (m.op === Op.Place) {
        if (m.pixels.length < 1 || m.pixels.length > MAX_PLACE_PIXELS) return { accepted, problem: "place: count" };
        if (!m.pixels.every((p) => inBounds(p, BOUNDS))) return { accepted, problem: "place: pixel outside bounds" };
        // the server re-encodes what it accepted; that must be the very bytes the client sent
        if (!sameBytes(encodePlace(m.nonce, m.pixels), bytes))
          return { accepted, problem: "place: re-encoding differs" };
      } else if (m.op === Op.ClientHello) {
        if (!sameBytes(encodeClientHello(m.resumeSeq, m.version), bytes))
          return { accepted, problem: "hello: re-encoding" };
      } else if (!sameBytes(encodeCatchUp(m.fromSeq), bytes)) {
        return { accepted, problem: "catch-up: re-encoding differs" };
      }
    }

    for (const bounds of [BOUNDS, undefined]) {
      const server = decodeServerMessage(bytes, bounds);
      if (badCode(server)) return { accepted, problem: "server: unknown error code" };
      if (!server.ok) continue;
      accepted++;
      const m = server.value;
      if (m.op === Op.Pixels) {
        if (!bounds) return { accepted, problem: "pixels accepted without bounds" };
        if (!m.pixels.every((p) => inBounds(p, bounds))) return { accepted, problem: "pixels: pixel outside bounds" };
        if (!sameBytes(encodePixels(m.seq, m.pixels), bytes))
          return { accepted, problem: "pixels: re-encoding differs" };
      } else if (m.op === Op.Resync) {
        if (!sameBytes(encodeResync(m.seq), bytes)) return { accepted, problem: "resync: re-encoding differs" };
      } else if (m.op === Op.Error) {
        if (!KNOWN_CODES.has(m.code)) return { accepted, problem: "error frame: unknown code accepted" };
      } else if (m.op === Op.ServerHello) {
        if (m.version !== PROTOCOL_VERSION || m.palette.length < 1) return { accepted, problem: "hello: invalid" };
      }
    }

    const info = decodeCanvasInfo(bytes);
    if (badCode(info)) return { accepted, problem: "canvas info: unknown error code" };
    if (info.ok) {
      accepted++;
      if (info.value.width < 1 || info.value.height < 1) return { accepted, problem: "canvas info: empty canvas" };
      if (!sameBytes(encodeCanvasInfo(info.value), bytes)) return { accepted, problem: "canvas info: re-encoding" };
    }

    const snapshot = decodeSnapshot(bytes, BOUNDS.paletteSize);
    if (badCode(snapshot)) return { accepted, problem: "snapshot: unknown error code" };
    if (snapshot.ok) {
      accepted++;
      const s = snapshot.value;
      if (s.pixels.length !== s.width * s.height) return { accepted, problem: "snapshot: size" };
      if (!s.pixels.every((c) => c < BOUNDS.paletteSize)) return { accepted, problem: "snapshot: colour" };
    }
  } catch (error) {
    return { accepted, problem: `threw ${String(error)}` };
  }
  return { accepted };
}

describe("fuzz: decoders never throw", () => {
  it("[P4] random byte arrays of length 0..2000 decode to a typed error or a valid value", () => {
    const seed = 0x5eed;
    const random = prng(seed);
    const problems: string[] = [];
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = randomBytes(random);
      const result = checkDecoders(bytes);
      accepted += result.accepted;
      if (result.problem) problems.push(`seed ${seed}, case ${i}: ${result.problem}`);
      // the same bytes at an odd offset must decode the same way
      if (i % 10 === 0) {
        const shifted = checkDecoders(atOffset(bytes, 1 + (i % 7)));
        if (shifted.problem || shifted.accepted !== result.accepted) {
          problems.push(`seed ${seed}, case ${i} at an offset: ${shifted.problem ?? "decoded differently"}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The nudges in randomBytes must let some frames through, or the accepting paths go unfuzzed.
    expect(accepted).toBeGreaterThan(10);
  });

  it("[P5] [P6] mutations and truncations of valid frames decode to a typed error or a valid value", () => {
    const seed = 0xf00d;
    const random = prng(seed);
    const problems: string[] = [];
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      for (const [j, frame] of validFrames(random).entries()) {
        // each unmutated frame is valid for the decoder it was made for
        const original = checkDecoders(frame);
        if (original.problem || original.accepted === 0) {
          problems.push(`seed ${seed}, case ${i}.${j} unmutated: ${original.problem ?? "rejected"}`);
        }
        const result = checkDecoders(mutate(random, frame));
        if (result.problem) problems.push(`seed ${seed}, case ${i}.${j}: ${result.problem}`);
        accepted += result.accepted;
        if (result.accepted === 0) rejected++;
      }
    }
    expect(problems).toEqual([]);
    // Both outcomes must occur, or the mutations are not exercising anything.
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });
});

describe("strict lengths", () => {
  it("[P1] a server hello with trailing bytes is a bad frame", () => {
    const hello = encodeServerHello({
      width: 10,
      height: 10,
      seq: 1,
      online: 2,
      rateLimit: { pixelsPerSecond: 1, burst: 1 },
      maxPlacePixels: 256,
      palette: [0, 0xffffff],
      region: "r",
      isolateId: "i",
    });
    const longer = new Uint8Array(hello.length + 1);
    longer.set(hello);
    expect(decodeServerMessage(hello).ok).toBe(true);
    expect(decodeServerMessage(longer)).toMatchObject({ ok: false, error: { error: ErrorCode.BadFrame } });
  });

  it("canvas info refuses a palette that does not fit its count byte", () => {
    expect(() => encodeCanvasInfo({ width: 1, height: 1, seq: 0, online: 0, palette: new Array(256).fill(0) })).toThrow(
      RangeError,
    );
  });
});
