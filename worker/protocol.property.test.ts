/**
 * Property-based tests of the decoders (fast-check): for any bytes, decoding returns a typed result
 * and never throws; for any valid message, decoding what was encoded gives it back, byte for byte.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bounds, pixel } from "./protocol.arbitrary.ts";
import {
  decodeClientMessage,
  decodeServerMessage,
  encodeCatchUp,
  encodeClientHello,
  encodePixels,
  encodePlace,
  MAX_PLACE_PIXELS,
  Op,
} from "./protocol.ts";

describe("decoders, property-based", () => {
  it("[P4] any bytes decode to a typed value or a typed error, never a throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const client = decodeClientMessage(bytes, bounds);
        const server = decodeServerMessage(bytes, bounds);
        expect(typeof client.ok).toBe("boolean");
        expect(typeof server.ok).toBe("boolean");
      }),
      { numRuns: 5000 },
    );
  });

  it("[P4] bytes that start with a real opcode still never throw", () => {
    const opcode = fc.constantFrom(...Object.values(Op));
    fc.assert(
      fc.property(opcode, fc.uint8Array({ maxLength: 1400 }), (op, rest) => {
        const bytes = new Uint8Array(rest.length + 1);
        bytes[0] = op;
        bytes.set(rest, 1);
        expect(typeof decodeClientMessage(bytes, bounds).ok).toBe("boolean");
        expect(typeof decodeServerMessage(bytes, bounds).ok).toBe("boolean");
      }),
      { numRuns: 5000 },
    );
  });

  it("[P5][P7] every valid Place round-trips exactly, and its bytes re-encode identically", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(pixel, { minLength: 1, maxLength: MAX_PLACE_PIXELS }),
        (nonce, pixels) => {
          const bytes = encodePlace(nonce, pixels);
          const decoded = decodeClientMessage(bytes, bounds);
          expect(decoded).toEqual({ ok: true, value: { op: Op.Place, nonce, pixels } });
          if (decoded.ok && decoded.value.op === Op.Place) {
            expect(encodePlace(decoded.value.nonce, decoded.value.pixels)).toEqual(bytes);
          }
        },
      ),
    );
  });

  it("[P6] a Place with any one pixel out of bounds is refused whole", () => {
    fc.assert(
      fc.property(fc.array(pixel, { minLength: 1, maxLength: 50 }), fc.nat(), (pixels, at) => {
        const bad = [...pixels];
        bad[at % bad.length] = { x: bounds.width, y: 0, colour: 0 };
        const decoded = decodeClientMessage(encodePlace(1, bad), bounds);
        expect(decoded.ok).toBe(false);
      }),
    );
  });

  it("[P8][P13] CatchUp, hello and Pixels frames round-trip", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(pixel, { maxLength: 300 }), (seq, pixels) => {
        expect(decodeClientMessage(encodeCatchUp(seq), bounds)).toEqual({
          ok: true,
          value: { op: Op.CatchUp, fromSeq: seq },
        });
        expect(decodeClientMessage(encodeClientHello(seq), bounds)).toMatchObject({
          ok: true,
          value: { op: Op.ClientHello, resumeSeq: seq },
        });
        expect(decodeServerMessage(encodePixels(seq, pixels), bounds)).toEqual({
          ok: true,
          value: { op: Op.Pixels, seq, pixels },
        });
      }),
    );
  });
});
