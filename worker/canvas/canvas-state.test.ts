/**
 * Tests of the in-memory canvas (canvas-state.ts): applying pixels, the dirty-tile set that drives
 * storage writes, and the tile codec, including the smaller edge tiles of canvases whose sides are
 * not multiples of TILE_SIDE. Runs in Node.
 */

import { describe, expect, it } from "vitest";
import { prng } from "../../test/support/random.ts";
import type { Pixel } from "../protocol.ts";
import { CanvasState, TILE_SIDE } from "./canvas-state.ts";

/** A canvas where every pixel has a colour derived from its position, so misplaced bytes show. */
function patterned(width: number, height: number): CanvasState {
  const state = new CanvasState(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) state.pixels[y * width + x] = (x * 7 + y * 13) % 251;
  }
  return state;
}

/**
 * The first index where two byte arrays differ, or -1. Comparing megabyte canvases with toEqual takes
 * seconds; this takes a millisecond and still names the pixel that is wrong.
 */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function colourAt(state: CanvasState, x: number, y: number): number | undefined {
  return state.pixels[y * state.width + x];
}

describe("CanvasState geometry", () => {
  it("TILE_SIDE is 64", () => {
    expect(TILE_SIDE).toBe(64);
  });

  it.each([
    [1000, 1000, 16, 16],
    [130, 70, 3, 2],
    [64, 64, 1, 1],
    [65, 64, 2, 1],
    [1, 1, 1, 1],
    [4096, 4096, 64, 64],
  ])("a %i×%i canvas has %i×%i tiles", (width, height, across, down) => {
    const state = new CanvasState(width, height);
    expect(state.tilesAcross).toBe(across);
    expect(state.tilesDown).toBe(down);
    expect(state.tileCount).toBe(across * down);
    expect(state.pixels.length).toBe(width * height);
  });

  it("starts all colour 0 with no dirty tiles", () => {
    const state = new CanvasState(130, 70);
    expect(state.pixels.every((c) => c === 0)).toBe(true);
    expect(state.dirtyTileCount).toBe(0);
    expect(state.takeDirtyTiles()).toEqual([]);
  });
});

describe("CanvasState.apply", () => {
  it("writes each pixel at y × width + x", () => {
    const state = new CanvasState(130, 70);
    state.apply([
      { x: 0, y: 0, colour: 1 },
      { x: 129, y: 0, colour: 2 },
      { x: 0, y: 69, colour: 3 },
      { x: 129, y: 69, colour: 4 },
      { x: 5, y: 3, colour: 5 },
    ]);
    expect(state.pixels[0]).toBe(1);
    expect(state.pixels[129]).toBe(2);
    expect(state.pixels[69 * 130]).toBe(3);
    expect(state.pixels[70 * 130 - 1]).toBe(4);
    expect(state.pixels[3 * 130 + 5]).toBe(5);
    expect(state.pixels.reduce((n, c) => n + (c === 0 ? 0 : 1), 0)).toBe(5);
  });

  it("[P13] applies in order, so a later pixel at the same place wins", () => {
    const state = new CanvasState(10, 10);
    state.apply([
      { x: 4, y: 4, colour: 9 },
      { x: 4, y: 4, colour: 2 },
    ]);
    state.apply([{ x: 4, y: 4, colour: 7 }]);
    expect(colourAt(state, 4, 4)).toBe(7);
  });

  it("marks the tile of every pixel dirty, with ids row-major over tiles", () => {
    const state = new CanvasState(1000, 1000);
    state.apply([
      { x: 0, y: 0, colour: 1 }, // tile 0
      { x: 63, y: 63, colour: 1 }, // still tile 0
      { x: 64, y: 0, colour: 1 }, // tile 1
      { x: 0, y: 64, colour: 1 }, // tile 16: one row of 16 tiles down
      { x: 999, y: 0, colour: 1 }, // tile 15: the narrow last column
      { x: 999, y: 999, colour: 1 }, // tile 255: the bottom-right corner
      { x: 130, y: 200, colour: 1 }, // tile 3 × 16 + 2 = 50
    ]);
    expect(state.dirtyTileCount).toBe(6);
    expect(state.takeDirtyTiles()).toEqual([0, 1, 15, 16, 50, 255]);
  });

  it("on a 130×70 canvas the edge tiles get the right ids", () => {
    const state = new CanvasState(130, 70);
    state.apply([
      { x: 129, y: 0, colour: 1 }, // tile 2, 2 pixels wide
      { x: 0, y: 69, colour: 1 }, // tile 3, 6 pixels tall
      { x: 128, y: 64, colour: 1 }, // tile 5, 2×6
    ]);
    expect(state.takeDirtyTiles()).toEqual([2, 3, 5]);
  });

  it("marks a tile dirty even when the pixel's colour does not change", () => {
    const state = new CanvasState(10, 10);
    state.apply([{ x: 1, y: 1, colour: 0 }]);
    expect(state.takeDirtyTiles()).toEqual([0]);
  });
});

describe("CanvasState dirty tiles", () => {
  it("takeDirtyTiles returns ascending ids, each once, and forgets them", () => {
    const state = new CanvasState(1000, 1000);
    state.apply([
      { x: 999, y: 999, colour: 1 },
      { x: 0, y: 0, colour: 1 },
      { x: 500, y: 500, colour: 1 },
      { x: 1, y: 1, colour: 2 },
    ]);
    expect(state.takeDirtyTiles()).toEqual([0, 7 * 16 + 7, 255]);
    expect(state.dirtyTileCount).toBe(0);
    expect(state.takeDirtyTiles()).toEqual([]);
  });

  it("sorts numerically, not as strings", () => {
    const state = new CanvasState(1000, 1000);
    state.apply([
      { x: 0, y: 128, colour: 1 }, // 32
      { x: 64 * 9, y: 0, colour: 1 }, // 9
      { x: 64 * 10, y: 0, colour: 1 }, // 10
    ]);
    expect(state.takeDirtyTiles()).toEqual([9, 10, 32]);
  });

  it("markDirty puts tiles back after a failed write, merged with newer ones", () => {
    const state = new CanvasState(1000, 1000);
    state.apply([
      { x: 0, y: 0, colour: 1 },
      { x: 64, y: 0, colour: 1 },
    ]);
    const taken = state.takeDirtyTiles();
    expect(taken).toEqual([0, 1]);
    state.apply([
      { x: 65, y: 1, colour: 3 },
      { x: 0, y: 64, colour: 3 },
    ]); // tiles 1 and 16, while the write of 0 and 1 was in flight
    state.markDirty(taken);
    expect(state.dirtyTileCount).toBe(3);
    expect(state.takeDirtyTiles()).toEqual([0, 1, 16]);
  });
});

describe("CanvasState tiles", () => {
  it("readTile gives a tile's pixels row-major", () => {
    const state = patterned(1000, 1000);
    const tile = state.readTile(17); // second row of tiles, second column: x0 = 64, y0 = 64
    expect(tile.length).toBe(TILE_SIDE * TILE_SIDE);
    for (const [row, col] of [
      [0, 0],
      [0, 63],
      [5, 7],
      [63, 0],
      [63, 63],
    ] as const) {
      expect(tile[row * TILE_SIDE + col], `(${col}, ${row})`).toBe(colourAt(state, 64 + col, 64 + row));
    }
  });

  it.each([
    [1000, 1000, 15, 40, 64, 960, 0],
    [1000, 1000, 240, 64, 40, 0, 960],
    [1000, 1000, 255, 40, 40, 960, 960],
    [130, 70, 2, 2, 64, 128, 0],
    [130, 70, 3, 64, 6, 0, 64],
    [130, 70, 5, 2, 6, 128, 64],
    [1, 1, 0, 1, 1, 0, 0],
  ])("on a %i×%i canvas, edge tile %i is %i×%i at (%i, %i)", (width, height, id, w, h, x0, y0) => {
    const state = patterned(width, height);
    const tile = state.readTile(id);
    expect(tile.length).toBe(w * h);
    for (let row = 0; row < h; row++) {
      for (let col = 0; col < w; col++) {
        if (tile[row * w + col] !== colourAt(state, x0 + col, y0 + row)) {
          expect.fail(`tile ${id} (${col}, ${row}) is ${tile[row * w + col]}`);
        }
      }
    }
  });

  it("readTile returns a copy, not a view of the canvas", () => {
    const state = patterned(130, 70);
    const before = colourAt(state, 0, 0);
    const tile = state.readTile(0);
    tile[0] = 250;
    expect(colourAt(state, 0, 0)).toBe(before);
  });

  it("readTile and writeTile refuse tile ids that do not exist", () => {
    const state = new CanvasState(130, 70);
    for (const id of [-1, 6, 100, 1.5, Number.NaN]) {
      expect(() => state.readTile(id), `tile ${id}`).toThrow(RangeError);
      expect(() => state.writeTile(id, new Uint8Array(1)), `tile ${id}`).toThrow(RangeError);
    }
  });

  it("writeTile loads a tile into place, touching nothing else and marking nothing dirty", () => {
    const state = new CanvasState(130, 70);
    const bytes = Uint8Array.from({ length: 12 }, (_, i) => i + 1); // tile 5 is 2×6
    expect(state.writeTile(5, bytes)).toBe(true);
    for (let row = 0; row < 6; row++) {
      expect(colourAt(state, 128, 64 + row)).toBe(row * 2 + 1);
      expect(colourAt(state, 129, 64 + row)).toBe(row * 2 + 2);
    }
    expect(state.pixels.reduce((n, c) => n + (c === 0 ? 0 : 1), 0)).toBe(12);
    expect(state.dirtyTileCount).toBe(0);
  });

  it("writeTile rejects bytes of the wrong size and changes nothing", () => {
    const state = patterned(130, 70);
    const before = new Uint8Array(state.pixels);
    // tile 5 is 2×6 = 12 bytes; tile 0 is 64×64
    for (const [id, length] of [
      [5, 11],
      [5, 13],
      [5, 64 * 64],
      [0, 64 * 64 - 1],
      [0, 64 * 64 + 1],
      [2, 64 * 64],
      [0, 0],
    ] as const) {
      expect(state.writeTile(id, new Uint8Array(length).fill(9)), `tile ${id}, ${length} bytes`).toBe(false);
    }
    expect(firstDifference(state.pixels, before)).toBe(-1);
  });

  it.each([
    [1000, 1000],
    [130, 70],
    [64, 64],
    [65, 129],
    [1, 1],
  ])("reading every tile of a %i×%i canvas into a fresh one reproduces it exactly", (width, height) => {
    const random = prng(width * 10_007 + height);
    const source = new CanvasState(width, height);
    for (let i = 0; i < source.pixels.length; i++) source.pixels[i] = Math.floor(random() * 32);
    const copy = new CanvasState(width, height);
    let bytes = 0;
    for (let id = 0; id < source.tileCount; id++) {
      const tile = source.readTile(id);
      bytes += tile.length;
      expect(copy.writeTile(id, tile)).toBe(true);
    }
    // the tiles cover the canvas exactly once
    expect(bytes).toBe(width * height);
    expect(firstDifference(copy.pixels, source.pixels)).toBe(-1);
  });

  it("[P15] a random stream of pixels and its dirty tiles round-trip through storage", () => {
    const random = prng(42);
    const live = new CanvasState(1000, 1000);
    const stored = new Map<number, Uint8Array>();
    for (let round = 0; round < 20; round++) {
      const pixels: Pixel[] = Array.from({ length: 50 }, () => ({
        x: Math.floor(random() * 1000),
        y: Math.floor(random() * 1000),
        colour: 1 + Math.floor(random() * 31),
      }));
      live.apply(pixels);
      for (const id of live.takeDirtyTiles()) stored.set(id, live.readTile(id));
    }
    const reloaded = new CanvasState(1000, 1000);
    for (const [id, bytes] of stored) expect(reloaded.writeTile(id, bytes)).toBe(true);
    expect(firstDifference(reloaded.pixels, live.pixels)).toBe(-1);
  });
});
