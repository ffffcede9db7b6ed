/**
 * @module canvas-state
 * The canvas in memory: one palette index per pixel, row-major, plus the set of tiles changed since
 * they were last written to storage. Storage works in square tiles so that a burst of pixels in one
 * corner rewrites a few kilobytes, not the whole megabyte.
 */
import type { Pixel } from "../protocol.ts";

/** Side of a storage tile, in pixels: a 64×64 tile is a 4 KiB row in SQLite. */
export const TILE_SIDE = 64;

export class CanvasState {
  readonly pixels: Uint8Array;
  readonly tilesAcross: number;
  readonly tilesDown: number;
  private readonly dirty = new Set<number>();

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8Array(width * height);
    this.tilesAcross = Math.ceil(width / TILE_SIDE);
    this.tilesDown = Math.ceil(height / TILE_SIDE);
  }

  get tileCount(): number {
    return this.tilesAcross * this.tilesDown;
  }

  get dirtyTileCount(): number {
    return this.dirty.size;
  }

  /** Applies pixels in order (a later pixel at the same place wins). They must be in bounds. */
  apply(pixels: readonly Pixel[]): void {
    for (const p of pixels) {
      this.pixels[p.y * this.width + p.x] = p.colour;
      this.dirty.add(Math.floor(p.y / TILE_SIDE) * this.tilesAcross + Math.floor(p.x / TILE_SIDE));
    }
  }

  /** Returns and forgets the tiles changed since the last call, in ascending order. */
  takeDirtyTiles(): number[] {
    const tiles = [...this.dirty].sort((a, b) => a - b);
    this.dirty.clear();
    return tiles;
  }

  /** Marks tiles dirty again (after a failed write, so the next one retries them). */
  markDirty(tiles: readonly number[]): void {
    for (const t of tiles) this.dirty.add(t);
  }

  private tileRect(tile: number): { x0: number; y0: number; w: number; h: number } {
    if (!Number.isInteger(tile) || tile < 0 || tile >= this.tileCount) throw new RangeError(`no tile ${tile}`);
    const x0 = (tile % this.tilesAcross) * TILE_SIDE;
    const y0 = Math.floor(tile / this.tilesAcross) * TILE_SIDE;
    return { x0, y0, w: Math.min(TILE_SIDE, this.width - x0), h: Math.min(TILE_SIDE, this.height - y0) };
  }

  /** The bytes of one tile, row-major (edge tiles are smaller than TILE_SIDE²). */
  readTile(tile: number): Uint8Array {
    const { x0, y0, w, h } = this.tileRect(tile);
    const out = new Uint8Array(w * h);
    for (let row = 0; row < h; row++) {
      const start = (y0 + row) * this.width + x0;
      out.set(this.pixels.subarray(start, start + w), row * w);
    }
    return out;
  }

  /** Loads one tile written by readTile; false (and nothing changed) if the bytes do not fit. */
  writeTile(tile: number, bytes: Uint8Array): boolean {
    const { x0, y0, w, h } = this.tileRect(tile);
    if (bytes.length !== w * h) return false;
    for (let row = 0; row < h; row++) {
      this.pixels.set(bytes.subarray(row * w, (row + 1) * w), (y0 + row) * this.width + x0);
    }
    return true;
  }
}
