/**
 * @module renderer
 * Draws a CanvasState into the one <canvas>: a Uint32Array view of an ImageData holds one colour per
 * pixel, and at most once per animation frame the pixels that changed are copied in and only their
 * bounding rectangle is put back. However many frames arrive between two paints, the page paints once.
 * A hidden tab gets no animation frames: pixels keep landing in the model, and the first frame after
 * it is shown again paints them all at once.
 */

import type { CanvasState } from "./client-state.ts";

export class CanvasRenderer {
  private readonly context: CanvasRenderingContext2D;
  private state: CanvasState | undefined;
  private image: ImageData | undefined;
  private buffer: Uint32Array = new Uint32Array(0);
  private lut: Uint32Array = new Uint32Array(0);
  private scheduled = false;
  private paintCount = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {
    const context = canvas.getContext("2d", { alpha: false });
    if (!context) throw new Error("this browser cannot draw on a <canvas>");
    this.context = context;
  }

  /** Shows a (new) canvas: sizes the element and builds the colour table for the palette. */
  attach(state: CanvasState, palette: readonly number[]): void {
    this.state = state;
    this.canvas.width = state.width;
    this.canvas.height = state.height;
    this.image = this.context.createImageData(state.width, state.height);
    this.buffer = new Uint32Array(this.image.data.buffer);
    this.lut = colourTable(palette);
    state.invalidate();
    this.requestPaint();
  }

  /** putImageData calls since the page loaded (a test hook: at most one per animation frame). */
  get paints(): number {
    return this.paintCount;
  }

  /** Asks for a repaint on the next animation frame; calls before it runs share it. */
  requestPaint(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.paint();
    });
  }

  private paint(): void {
    const state = this.state;
    const image = this.image;
    // Before the first snapshot the buffer holds zeros, not the canvas: draw nothing rather than a lie.
    if (!state || !image || !state.hasData) return;
    const rect = state.renderInto(this.buffer, this.lut);
    if (!rect) return;
    this.context.putImageData(image, 0, 0, rect.x, rect.y, rect.width, rect.height);
    this.paintCount++;
  }
}

/**
 * Palette (0xRRGGBB) to the 32-bit words of ImageData, whose bytes are R, G, B, A in memory: the word
 * depends on the machine's byte order, so it is checked rather than assumed.
 */
function colourTable(palette: readonly number[]): Uint32Array {
  const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  const table = new Uint32Array(palette.length);
  palette.forEach((rgb, i) => {
    const r = (rgb >> 16) & 0xff;
    const g = (rgb >> 8) & 0xff;
    const b = rgb & 0xff;
    table[i] = littleEndian
      ? ((0xff << 24) | (b << 16) | (g << 8) | r) >>> 0
      : ((r << 24) | (g << 16) | (b << 8) | 0xff) >>> 0;
  });
  return table;
}
