/**
 * @module viewport
 * Zoom and pan of the canvas by a CSS transform on the stage that wraps it (translate, then scale,
 * from the top-left corner), and the pointer rules: a press released within a few pixels of where it
 * began is a click on a canvas pixel (with Shift or Alt, an inspect); a touch held still is an inspect
 * too; anything that moves is a pan; two fingers pinch-zoom; the wheel zooms around the cursor; a
 * mouse over the canvas reports the pixel it hovers. The <canvas> keeps its size of one CSS pixel per
 * canvas pixel, so the browser scales it (pixelated) and the page never redraws to zoom.
 */

/** A press that moves less than this (CSS pixels) is a click, not a pan. */
const CLICK_SLOP_PX = 4;
/** Largest zoom: one canvas pixel across this many CSS pixels. */
const MAX_SCALE = 64;
/** How far the fitted canvas stays from the edges (share of the viewport). */
const FIT_MARGIN = 0.96;
/** How much of the canvas stays on screen however far it is dragged (CSS pixels). */
const KEEP_VISIBLE_PX = 48;
const BUTTON_ZOOM = 1.5;
/** A touch held this long without moving asks for the pixel's info instead of placing. */
const LONG_PRESS_MS = 500;
/** How far from the viewport's edges the keyboard cursor is kept when the view follows it (CSS px). */
const REVEAL_MARGIN_PX = 32;

export interface Point {
  x: number;
  y: number;
}

/** Where a canvas pixel is on screen, relative to the viewport element's top-left corner (CSS px). */
export interface ScreenBox {
  left: number;
  top: number;
  size: number;
}

export interface ViewportEvents {
  /** A click or tap landed on canvas pixel (x, y). */
  click(x: number, y: number): void;
  /** A click with Shift or Alt, or a long touch, on canvas pixel (x, y): show what is there. */
  inspect(x: number, y: number): void;
  /** The mouse (or pen) hovers this pixel; undefined when it left the canvas or a pan began. */
  hover(pixel: Point | undefined): void;
  /** The view moved or zoomed: things drawn over the canvas follow. */
  changed(): void;
}

export class Viewport {
  private scale = 1;
  private tx = 0;
  private ty = 0;
  private width = 1;
  private height = 1;
  /** Once the person has zoomed or panned, a resize no longer refits the canvas under them. */
  private touched = false;
  private readonly pointers = new Map<number, Point>();
  private press: { start: Point; moved: boolean } | undefined;
  private longPress: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly viewport: HTMLElement,
    private readonly stage: HTMLElement,
    private readonly canvas: HTMLCanvasElement,
    private readonly events: ViewportEvents,
  ) {
    viewport.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    viewport.addEventListener("pointermove", (e) => this.onPointerMove(e));
    viewport.addEventListener("pointerup", (e) => this.onPointerUp(e, true));
    viewport.addEventListener("pointercancel", (e) => this.onPointerUp(e, false));
    // A held touch is an inspect (above), not the browser's menu for the canvas image.
    viewport.addEventListener("contextmenu", (e) => {
      if (this.pointers.size > 0) e.preventDefault();
    });
    viewport.addEventListener("pointerleave", (e) => {
      if (e.pointerType !== "touch") this.events.hover(undefined);
    });
    // Not passive: the page, not the browser, zooms on wheel and trackpad pinch (ctrl+wheel).
    viewport.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    new ResizeObserver(() => {
      if (this.touched) this.clamp();
      else this.fit();
    }).observe(viewport);
  }

  /** Sets the canvas size and fits the whole canvas in view. */
  setSize(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.fit();
  }

  /** Shows the whole canvas, centred. */
  fit(): void {
    const { clientWidth: vw, clientHeight: vh } = this.viewport;
    if (vw === 0 || vh === 0) return;
    this.scale = Math.min(vw / this.width, vh / this.height) * FIT_MARGIN;
    this.tx = (vw - this.width * this.scale) / 2;
    this.ty = (vh - this.height * this.scale) / 2;
    this.touched = false;
    this.apply();
  }

  /** Zooms by `factor` around the viewport's centre (buttons and keys). */
  zoomBy(factor: number): void {
    this.zoomAt({ x: this.viewport.clientWidth / 2, y: this.viewport.clientHeight / 2 }, factor);
  }

  zoomIn(): void {
    this.zoomBy(BUTTON_ZOOM);
  }

  zoomOut(): void {
    this.zoomBy(1 / BUTTON_ZOOM);
  }

  /** Where canvas pixel (x, y) is drawn now, relative to the viewport element. */
  toScreen(x: number, y: number): ScreenBox {
    return { left: this.tx + x * this.scale, top: this.ty + y * this.scale, size: this.scale };
  }

  /** The canvas pixel nearest the middle of the viewport (where a keyboard cursor starts). */
  centre(): Point {
    const x = Math.floor((this.viewport.clientWidth / 2 - this.tx) / this.scale);
    const y = Math.floor((this.viewport.clientHeight / 2 - this.ty) / this.scale);
    return { x: Math.min(this.width - 1, Math.max(0, x)), y: Math.min(this.height - 1, Math.max(0, y)) };
  }

  /** Pans just enough to bring pixel (x, y) into view, a margin away from the edges. */
  reveal(x: number, y: number): void {
    const { clientWidth: vw, clientHeight: vh } = this.viewport;
    const box = this.toScreen(x, y);
    const margin = Math.min(REVEAL_MARGIN_PX, vw / 4, vh / 4);
    let dx = 0;
    let dy = 0;
    if (box.left < margin) dx = margin - box.left;
    else if (box.left + box.size > vw - margin) dx = vw - margin - box.left - box.size;
    if (box.top < margin) dy = margin - box.top;
    else if (box.top + box.size > vh - margin) dy = vh - margin - box.top - box.size;
    if (dx !== 0 || dy !== 0) this.panBy(dx, dy);
  }

  /**
   * The canvas pixel under a point of the window, or undefined off the canvas. Read from the canvas's
   * on-screen box, which already includes the transform, so it cannot drift from what is drawn.
   */
  pixelAt(clientX: number, clientY: number): Point | undefined {
    const box = this.canvas.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) return undefined;
    const x = Math.floor(((clientX - box.left) / box.width) * this.canvas.width);
    const y = Math.floor(((clientY - box.top) / box.height) * this.canvas.height);
    if (x < 0 || y < 0 || x >= this.canvas.width || y >= this.canvas.height) return undefined;
    return { x, y };
  }

  private zoomAt(at: Point, factor: number): void {
    const fitted = Math.min(this.viewport.clientWidth / this.width, this.viewport.clientHeight / this.height);
    const next = Math.min(MAX_SCALE, Math.max(Math.min(fitted / 2, 1), this.scale * factor));
    // Keep the canvas point under `at` where it is: at = t + p·s before and after.
    const k = next / this.scale;
    this.tx = at.x - (at.x - this.tx) * k;
    this.ty = at.y - (at.y - this.ty) * k;
    this.scale = next;
    this.touched = true;
    this.clamp();
  }

  private panBy(dx: number, dy: number): void {
    this.tx += dx;
    this.ty += dy;
    this.touched = true;
    this.clamp();
  }

  /** Keeps part of the canvas on screen, so it cannot be lost off an edge. */
  private clamp(): void {
    const { clientWidth: vw, clientHeight: vh } = this.viewport;
    const keepX = Math.min(KEEP_VISIBLE_PX, this.width * this.scale);
    const keepY = Math.min(KEEP_VISIBLE_PX, this.height * this.scale);
    this.tx = Math.min(vw - keepX, Math.max(keepX - this.width * this.scale, this.tx));
    this.ty = Math.min(vh - keepY, Math.max(keepY - this.height * this.scale, this.ty));
    this.apply();
  }

  private apply(): void {
    this.stage.style.transform = `translate(${this.tx}px, ${this.ty}px) scale(${this.scale})`;
    this.events.changed();
  }

  private local(e: { clientX: number; clientY: number }): Point {
    const box = this.viewport.getBoundingClientRect();
    return { x: e.clientX - box.left, y: e.clientY - box.top };
  }

  private onPointerDown(e: PointerEvent): void {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    // Presses on the overlaid controls (zoom buttons) are theirs, not a pan or a placement.
    if (e.target instanceof Element && e.target.closest("button, a")) return;
    // Presses on panels over the canvas (pixel info) are theirs too.
    if (e.target instanceof Element && e.target.closest(".panel")) return;
    this.viewport.setPointerCapture(e.pointerId);
    this.pointers.set(e.pointerId, this.local(e));
    // A second finger turns the gesture into a pinch, which never ends in a click.
    this.press =
      this.pointers.size === 1 ? { start: this.local(e), moved: false } : this.press && { ...this.press, moved: true };
    this.cancelLongPress();
    if (this.pointers.size === 1 && e.pointerType !== "mouse") {
      const { clientX, clientY } = e;
      this.longPress = setTimeout(() => {
        this.longPress = undefined;
        const press = this.press;
        if (!press || press.moved || this.pointers.size !== 1) return;
        // The press is used up: its release must not also place a pixel.
        press.moved = true;
        const pixel = this.pixelAt(clientX, clientY);
        if (pixel) this.events.inspect(pixel.x, pixel.y);
      }, LONG_PRESS_MS);
    }
  }

  private cancelLongPress(): void {
    if (this.longPress !== undefined) clearTimeout(this.longPress);
    this.longPress = undefined;
  }

  private onPointerMove(e: PointerEvent): void {
    const previous = this.pointers.get(e.pointerId);
    if (!previous) {
      // Not pressed: a mouse or pen hovering. Touch has no hover.
      if (e.pointerType !== "touch") this.events.hover(this.pixelAt(e.clientX, e.clientY));
      return;
    }
    const point = this.local(e);
    if (this.pointers.size >= 2) {
      this.pinch(e.pointerId, previous, point);
      return;
    }
    this.pointers.set(e.pointerId, point);
    const press = this.press;
    if (!press) return;
    if (!press.moved && Math.hypot(point.x - press.start.x, point.y - press.start.y) < CLICK_SLOP_PX) return;
    if (!press.moved) {
      press.moved = true;
      this.cancelLongPress();
      this.events.hover(undefined);
      this.viewport.classList.add("panning");
      // Pan from where the press began, so the first few pixels of the drag are not lost.
      this.panBy(point.x - press.start.x, point.y - press.start.y);
      return;
    }
    this.panBy(point.x - previous.x, point.y - previous.y);
  }

  /** Two pointers: zoom by the change of their distance, pan by the move of their midpoint. */
  private pinch(id: number, previous: Point, point: Point): void {
    const other = [...this.pointers].find(([otherId]) => otherId !== id)?.[1];
    this.pointers.set(id, point);
    if (!other) return;
    const before = Math.hypot(previous.x - other.x, previous.y - other.y);
    const after = Math.hypot(point.x - other.x, point.y - other.y);
    const midBefore = { x: (previous.x + other.x) / 2, y: (previous.y + other.y) / 2 };
    const midAfter = { x: (point.x + other.x) / 2, y: (point.y + other.y) / 2 };
    if (before > 0 && after > 0) this.zoomAt(midAfter, after / before);
    this.panBy(midAfter.x - midBefore.x, midAfter.y - midBefore.y);
  }

  private onPointerUp(e: PointerEvent, released: boolean): void {
    if (!this.pointers.delete(e.pointerId)) return;
    const press = this.press;
    if (this.pointers.size > 0) return;
    this.press = undefined;
    this.cancelLongPress();
    this.viewport.classList.remove("panning");
    const pixel = this.pixelAt(e.clientX, e.clientY);
    if (e.pointerType !== "touch") this.events.hover(pixel);
    if (!released || !press || press.moved || !pixel) return;
    if (e.shiftKey || e.altKey) this.events.inspect(pixel.x, pixel.y);
    else this.events.click(pixel.x, pixel.y);
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    // Lines and pages are turned into pixels so a mouse wheel and a trackpad zoom at similar speeds.
    const unit = e.deltaMode === WheelEvent.DOM_DELTA_LINE ? 16 : e.deltaMode === WheelEvent.DOM_DELTA_PAGE ? 400 : 1;
    const delta = Math.max(-400, Math.min(400, e.deltaY * unit));
    // Trackpad pinches arrive as ctrl+wheel with small deltas: zoom faster for them.
    this.zoomAt(this.local(e), Math.exp(-delta * (e.ctrlKey ? 0.01 : 0.0015)));
    // The pixel under the mouse changed with the zoom.
    this.events.hover(this.pixelAt(e.clientX, e.clientY));
  }
}
