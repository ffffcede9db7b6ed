/**
 * The PlaceBatch frame (edge → canvas, [P18]): layout, validation of every entry, and properties of
 * the decoder (fast-check): any bytes give a typed result, any valid batch round-trips byte for byte.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bounds, pixel } from "./protocol.arbitrary.ts";
import {
  type BatchedPlacement,
  batchEntryBytes,
  decodePlaceBatch,
  ErrorCode,
  encodePlace,
  encodePlaceBatch,
  MAX_BATCH_PIXELS,
  MAX_PLACE_PIXELS,
  Op,
} from "./protocol.ts";

const placement = fc.record({
  session: fc.integer({ min: 0, max: 0xffffffff }),
  nonce: fc.integer({ min: 0, max: 0xffffffff }),
  pixels: fc.array(pixel, { minLength: 1, maxLength: 20 }),
});

function errorOf(bytes: Uint8Array): number | undefined {
  const decoded = decodePlaceBatch(bytes, bounds);
  if (!decoded) throw new Error("not recognised as a place batch");
  return decoded.ok ? undefined : decoded.error.error;
}

describe("[P18] PlaceBatch layout", () => {
  const two: BatchedPlacement[] = [
    { session: 7, nonce: 0xdeadbeef, pixels: [{ x: 1, y: 2, colour: 3 }] },
    {
      session: 0xffffffff,
      nonce: 1,
      pixels: [
        { x: 999, y: 699, colour: 31 },
        { x: 0, y: 0, colour: 0 },
      ],
    },
  ];

  it("is op, count, then per placement session, nonce, count and pixels", () => {
    const bytes = encodePlaceBatch(two);
    expect(bytes.length).toBe(3 + batchEntryBytes(1) + batchEntryBytes(2));
    expect(bytes.length).toBe(3 + 15 + 20);
    const view = new DataView(bytes.buffer);
    expect(view.getUint8(0)).toBe(Op.PlaceBatch);
    expect(view.getUint16(1)).toBe(2);
    expect(view.getUint32(3)).toBe(7);
    expect(view.getUint32(7)).toBe(0xdeadbeef);
    expect(view.getUint16(11)).toBe(1);
    expect([view.getUint16(13), view.getUint16(15), view.getUint8(17)]).toEqual([1, 2, 3]);
    expect(view.getUint32(18)).toBe(0xffffffff);
  });

  it("decodes what it encodes", () => {
    expect(decodePlaceBatch(encodePlaceBatch(two), bounds)).toEqual({
      ok: true,
      value: { op: Op.PlaceBatch, placements: two },
    });
  });

  it("is not another frame's decoder: other opcodes are left to them", () => {
    expect(decodePlaceBatch(encodePlace(1, [{ x: 0, y: 0, colour: 0 }]), bounds)).toBeUndefined();
    expect(decodePlaceBatch(new Uint8Array(0), bounds)).toBeUndefined();
  });

  it("refuses an empty batch, a truncated entry, an empty or oversized placement and bytes left over", () => {
    const good = encodePlaceBatch(two);
    expect(errorOf(Uint8Array.of(Op.PlaceBatch, 0))).toBe(ErrorCode.BadFrame);
    expect(errorOf(Uint8Array.of(Op.PlaceBatch, 0, 0))).toBe(ErrorCode.BadFrame);
    for (let cut = 3; cut < good.length; cut++) expect(errorOf(good.slice(0, cut))).toBe(ErrorCode.BadFrame);
    const extra = new Uint8Array(good.length + 1);
    extra.set(good);
    expect(errorOf(extra)).toBe(ErrorCode.BadFrame);
    const empty = good.slice();
    new DataView(empty.buffer).setUint16(11, 0);
    expect(errorOf(empty)).toBe(ErrorCode.BadFrame);
    const big = good.slice();
    new DataView(big.buffer).setUint16(11, MAX_PLACE_PIXELS + 1);
    expect(errorOf(big)).toBe(ErrorCode.BadFrame);
  });

  it("[P7] checks every pixel of every placement against the canvas", () => {
    const off = encodePlaceBatch([
      two[0] as BatchedPlacement,
      { session: 1, nonce: 2, pixels: [{ x: 1000, y: 0, colour: 0 }] },
    ]);
    expect(errorOf(off)).toBe(ErrorCode.OutOfBounds);
    const colour = encodePlaceBatch([{ session: 1, nonce: 2, pixels: [{ x: 0, y: 0, colour: 32 }] }]);
    expect(errorOf(colour)).toBe(ErrorCode.BadColour);
  });

  it("holds at most one broadcast frame of pixels", () => {
    const full = Array.from({ length: MAX_BATCH_PIXELS / MAX_PLACE_PIXELS }, (_, i) => ({
      session: i,
      nonce: i,
      pixels: Array.from({ length: MAX_PLACE_PIXELS }, () => ({ x: 0, y: 0, colour: 0 })),
    }));
    expect(decodePlaceBatch(encodePlaceBatch(full), bounds)?.ok).toBe(true);
    const over = [...full, { session: 0, nonce: 0, pixels: [{ x: 0, y: 0, colour: 0 }] }];
    expect(errorOf(encodePlaceBatch(over))).toBe(ErrorCode.TooLarge);
  });

  it("the encoder refuses what no decoder would take", () => {
    expect(() => encodePlaceBatch([])).toThrow(RangeError);
    expect(() => encodePlaceBatch([{ session: 1, nonce: 1, pixels: [] }])).toThrow(RangeError);
  });
});

describe("[P18] PlaceBatch, property-based", () => {
  it("any bytes after the opcode decode to a typed value or a typed error, never a throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (rest) => {
        const bytes = new Uint8Array(rest.length + 1);
        bytes[0] = Op.PlaceBatch;
        bytes.set(rest, 1);
        expect(typeof decodePlaceBatch(bytes, bounds)?.ok).toBe("boolean");
      }),
      { numRuns: 5000 },
    );
  });

  it("any valid batch round-trips, byte for byte", () => {
    fc.assert(
      fc.property(fc.array(placement, { minLength: 1, maxLength: 30 }), (placements) => {
        const bytes = encodePlaceBatch(placements);
        const decoded = decodePlaceBatch(bytes, bounds);
        expect(decoded).toEqual({ ok: true, value: { op: Op.PlaceBatch, placements } });
        if (decoded?.ok) expect(encodePlaceBatch(decoded.value.placements)).toEqual(bytes);
      }),
      { numRuns: 1000 },
    );
  });
});
