/**
 * Tests of the renderer (renderer.ts) with a fake 2D context and a hand-cranked animation frame: however
 * many updates arrive between two frames, the canvas is repainted at most once per frame, only the
 * rectangle that changed is put back, and the paint counter (a test hook) counts putImageData calls.
 */

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CanvasState } from "./client-state.ts";
import { CanvasRenderer } from "./renderer.ts";

const W = 32;
const H = 16;

let frames: FrameRequestCallback[];
let puts: { x: number; y: number; width: number; height: number }[];

/** Runs the animation frame callbacks queued so far, as the browser does once per display frame. */
function animationFrame(): void {
  const due = frames;
  frames = [];
  for (const callback of due) callback(0);
}

function fakeCanvas(): HTMLCanvasElement {
  const context = {
    createImageData: (width: number, height: number) => ({
      width,
      height,
      data: new Uint8ClampedArray(width * height * 4),
    }),
    putImageData: (_image: unknown, _dx: number, _dy: number, x: number, y: number, width: number, height: number) => {
      puts.push({ x, y, width, height });
    },
  };
  // Only what the renderer touches: its size and a 2D context.
  const canvas = { width: 0, height: 0, getContext: () => context };
  return canvas as unknown as HTMLCanvasElement;
}

function joined(): CanvasState {
  const state = new CanvasState(W, H, 4);
  state.applySnapshot({ width: W, height: H, seq: 0, pixels: new Uint8Array(W * H) });
  return state;
}

beforeEach(() => {
  frames = [];
  puts = [];
  vi.stubGlobal("requestAnimationFrame", (callback: FrameRequestCallback) => {
    frames.push(callback);
    return frames.length;
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("CanvasRenderer", () => {
  it("repaints at most once per animation frame however many frames of pixels arrive", () => {
    const renderer = new CanvasRenderer(fakeCanvas());
    const state = joined();
    renderer.attach(state, [0xffffff, 0x000000, 0xff0000, 0x00ff00]);
    animationFrame();
    expect(puts).toEqual([{ x: 0, y: 0, width: W, height: H }]);

    for (let seq = 1; seq <= 1_000; seq++) {
      state.applyFrame({ seq, pixels: [{ x: seq % W, y: 3 + (seq % 2), colour: 1 + (seq % 3) }] });
      renderer.requestPaint();
    }
    expect(frames).toHaveLength(1);
    animationFrame();
    expect(puts).toHaveLength(2);
    expect(puts[1]).toEqual({ x: 0, y: 3, width: W, height: 2 });
    expect(renderer.paints).toBe(2);
  });

  it("does not paint when nothing changed, nor before the canvas holds a snapshot", () => {
    const renderer = new CanvasRenderer(fakeCanvas());
    const state = new CanvasState(W, H, 4);
    renderer.attach(state, [0xffffff, 0, 0, 0]);
    animationFrame();
    expect(renderer.paints).toBe(0);
    state.applySnapshot({ width: W, height: H, seq: 0, pixels: new Uint8Array(W * H) });
    renderer.requestPaint();
    animationFrame();
    renderer.requestPaint();
    animationFrame();
    expect(renderer.paints).toBe(1);
  });
});
