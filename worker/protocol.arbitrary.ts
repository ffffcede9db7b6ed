/**
 * fast-check generators shared by the protocol's property tests: a canvas shape, and pixels on it.
 */
import fc from "fast-check";

export const bounds = { width: 1000, height: 700, paletteSize: 32 };

/** Any pixel on `bounds`. */
export const pixel = fc.record({
  x: fc.integer({ min: 0, max: bounds.width - 1 }),
  y: fc.integer({ min: 0, max: bounds.height - 1 }),
  colour: fc.integer({ min: 0, max: bounds.paletteSize - 1 }),
});
