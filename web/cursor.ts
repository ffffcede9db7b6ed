/**
 * @module cursor
 * The square that shows where a pixel will land, in the selected colour: under the mouse (hover), or
 * where the arrow keys put it while the canvas has the keyboard focus; and the marks on pixels queued
 * while offline. The arithmetic (`stepCursor`, `cursorBox`) is pure and tested in Node; the classes
 * only move absolutely positioned elements over the canvas, so the canvas itself is never redrawn for
 * a cursor.
 */

import type { Point, ScreenBox } from "./viewport.ts";

/** Arrow keys and the step each one takes. */
export const ARROW_STEPS: Readonly<Record<string, Point>> = {
  ArrowLeft: { x: -1, y: 0 },
  ArrowRight: { x: 1, y: 0 },
  ArrowUp: { x: 0, y: -1 },
  ArrowDown: { x: 0, y: 1 },
};

/** Pixels moved by an arrow key with Shift held. */
export const BIG_STEP = 10;

/**
 * Smallest size the cursor is drawn at (CSS px). Zoomed out, a canvas pixel can be smaller than a
 * screen pixel; the square then stays this big, centred on the pixel, so it can still be seen.
 */
export const MIN_CURSOR_PX = 8;

/** Where an arrow key moves the cursor, kept on the canvas; undefined if `key` is not an arrow. */
export function stepCursor(at: Point, key: string, big: boolean, width: number, height: number): Point | undefined {
  const step = ARROW_STEPS[key];
  if (!step) return undefined;
  const n = big ? BIG_STEP : 1;
  return {
    x: Math.min(width - 1, Math.max(0, at.x + step.x * n)),
    y: Math.min(height - 1, Math.max(0, at.y + step.y * n)),
  };
}

/** The square to draw for a pixel's screen box: the box itself, or grown to `min` around its centre. */
export function cursorBox(box: ScreenBox, min = MIN_CURSOR_PX): ScreenBox {
  if (box.size >= min) return box;
  const grow = (min - box.size) / 2;
  return { left: box.left - grow, top: box.top - grow, size: min };
}

/** What the cursor needs from the viewport. */
export interface CursorHost {
  toScreen(x: number, y: number): ScreenBox;
  centre(): Point;
  reveal(x: number, y: number): void;
}

export type CursorSource = "pointer" | "keyboard";

function place(element: HTMLElement, box: ScreenBox): void {
  element.style.transform = `translate(${box.left}px, ${box.top}px)`;
  element.style.width = `${box.size}px`;
  element.style.height = `${box.size}px`;
}

/**
 * One cursor for both mouse and keyboard: the mouse moves it where it hovers, the arrows move it from
 * there. It shows while the mouse is over the canvas, or while the keyboard drives it.
 */
export class CanvasCursor {
  private at: Point | undefined;
  private hovering = false;
  private keyboard = false;

  constructor(
    private readonly host: CursorHost,
    private readonly element: HTMLElement,
    /** Called when the cursor moves or hides (undefined). */
    private readonly moved: (at: Point | undefined, source: CursorSource) => void,
  ) {}

  /** The pixel the keyboard acts on (set once the cursor has been anywhere), shown or not. */
  get position(): Point | undefined {
    return this.at;
  }

  /** The CSS colour of the square: the selected palette colour. */
  set colour(css: string) {
    this.element.style.setProperty("--cursor-colour", css);
  }

  hover(pixel: Point | undefined): void {
    this.keyboard = false;
    this.hovering = pixel !== undefined;
    if (pixel) this.at = pixel;
    this.render();
    this.moved(this.hovering ? this.at : undefined, "pointer");
  }

  /** The canvas got the keyboard focus: show the cursor where it was, or in the middle of the view. */
  focus(): void {
    this.at ??= this.host.centre();
    this.keyboard = true;
    this.render();
    this.moved(this.at, "keyboard");
  }

  blur(): void {
    this.keyboard = false;
    this.render();
  }

  /** Moves by an arrow key; false if `key` is not one. */
  step(key: string, big: boolean, width: number, height: number): boolean {
    const next = stepCursor(this.at ?? this.host.centre(), key, big, width, height);
    if (!next) return false;
    this.at = next;
    this.keyboard = true;
    this.host.reveal(next.x, next.y);
    this.render();
    this.moved(next, "keyboard");
    return true;
  }

  /** Redraws where the cursor is (after a zoom or pan). */
  render(): void {
    const at = this.at;
    const visible = at !== undefined && (this.hovering || this.keyboard);
    this.element.hidden = !visible;
    if (visible) place(this.element, cursorBox(this.host.toScreen(at.x, at.y)));
  }
}

/** Dashed marks on the pixels queued while offline, so they read as "not sent yet". */
export class QueueMarks {
  private pixels: readonly Point[] = [];

  constructor(
    private readonly host: CursorHost,
    private readonly container: HTMLElement,
  ) {}

  show(pixels: readonly Point[]): void {
    this.pixels = pixels;
    this.render();
  }

  render(): void {
    const marks = this.container.children;
    while (marks.length < this.pixels.length) {
      const mark = document.createElement("div");
      mark.className = "mark";
      this.container.append(mark);
    }
    while (marks.length > this.pixels.length) marks[marks.length - 1]?.remove();
    this.pixels.forEach((p, i) => {
      const mark = marks[i];
      if (mark instanceof HTMLElement) place(mark, cursorBox(this.host.toScreen(p.x, p.y)));
    });
  }
}
