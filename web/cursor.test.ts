/**
 * Tests of the cursor's arithmetic (cursor.ts): arrow keys step by one pixel or ten and stay on the
 * canvas; a pixel drawn smaller than the least cursor size gets a square centred on it.
 */

import { describe, expect, it } from "vitest";
import { BIG_STEP, cursorBox, MIN_CURSOR_PX, stepCursor } from "./cursor.ts";

describe("stepCursor", () => {
  it("moves one pixel per arrow, BIG_STEP with Shift", () => {
    expect(stepCursor({ x: 5, y: 5 }, "ArrowRight", false, 64, 48)).toEqual({ x: 6, y: 5 });
    expect(stepCursor({ x: 5, y: 5 }, "ArrowUp", false, 64, 48)).toEqual({ x: 5, y: 4 });
    expect(stepCursor({ x: 20, y: 20 }, "ArrowLeft", true, 64, 48)).toEqual({ x: 20 - BIG_STEP, y: 20 });
    expect(stepCursor({ x: 20, y: 20 }, "ArrowDown", true, 64, 48)).toEqual({ x: 20, y: 20 + BIG_STEP });
  });

  it("stays on the canvas", () => {
    expect(stepCursor({ x: 0, y: 0 }, "ArrowLeft", false, 64, 48)).toEqual({ x: 0, y: 0 });
    expect(stepCursor({ x: 3, y: 0 }, "ArrowUp", true, 64, 48)).toEqual({ x: 3, y: 0 });
    expect(stepCursor({ x: 60, y: 45 }, "ArrowRight", true, 64, 48)).toEqual({ x: 63, y: 45 });
    expect(stepCursor({ x: 60, y: 45 }, "ArrowDown", true, 64, 48)).toEqual({ x: 60, y: 47 });
  });

  it("ignores keys that are not arrows", () => {
    expect(stepCursor({ x: 1, y: 1 }, "Enter", false, 64, 48)).toBeUndefined();
    expect(stepCursor({ x: 1, y: 1 }, "a", false, 64, 48)).toBeUndefined();
  });
});

describe("cursorBox", () => {
  it("is the pixel's own box when the pixel is big enough", () => {
    expect(cursorBox({ left: 10, top: 20, size: 16 })).toEqual({ left: 10, top: 20, size: 16 });
  });

  it("grows a small pixel's box to the least size, around the same centre", () => {
    const box = cursorBox({ left: 100, top: 50, size: 0.5 });
    expect(box.size).toBe(MIN_CURSOR_PX);
    expect(box.left + box.size / 2).toBeCloseTo(100.25);
    expect(box.top + box.size / 2).toBeCloseTo(50.25);
  });
});
