/**
 * @module main
 * The page's entry point: finds the elements of index.html, wires the session (protocol), the
 * renderer, the viewport and the widgets together, binds the keys, and exposes a read-only hook for
 * end-to-end tests. Everything with rules in it lives in the modules it imports.
 */

import { CanvasRenderer } from "./renderer.ts";
import { Session } from "./session.ts";
import {
  BudgetView,
  element,
  KEYED_COLOURS,
  MessageLine,
  PaletteBar,
  PresenceView,
  StatusLine,
  showServedBy,
} from "./ui.ts";
import { Viewport } from "./viewport.ts";

/** What end-to-end tests may read from the page (never write). */
export interface PixelPlaygroundHooks {
  /** The sequence of the newest frame the page holds. */
  seq(): number;
  /** Palette index shown at (x, y): the server's colour or a pending placement's; -1 off the canvas. */
  pixelAt(x: number, y: number): number;
  readonly state: Session["status"];
}

declare global {
  interface Window {
    __pixelPlayground?: PixelPlaygroundHooks;
  }
}

const SNAPSHOT_URL = "/api/canvas";
/** How often the pixel budget is redrawn while it refills. */
const BUDGET_REFRESH_MS = 200;

const canvas = element("canvas", HTMLCanvasElement);
const viewportElement = element("viewport", HTMLElement);
const palette = new PaletteBar(element("palette", HTMLElement));
const statusLine = new StatusLine(element("status", HTMLElement), element("reload", HTMLButtonElement));
const presence = new PresenceView(element("presence", HTMLElement), element("regions", HTMLElement));
const budget = new BudgetView(element("budget", HTMLElement));
const message = new MessageLine(element("message", HTMLElement));
const servedBy = element("served-by", HTMLElement);
const renderer = new CanvasRenderer(canvas);

const socketUrl = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
const session = new Session(socketUrl, SNAPSHOT_URL, {
  status: (status, text) => statusLine.show(status, text),
  canvas: (state, hello) => {
    renderer.attach(state, hello.palette);
    palette.build(hello.palette);
    viewport.setSize(state.width, state.height);
    showLoaded();
  },
  hello: (hello) => showServedBy(servedBy, hello),
  pixels: () => {
    renderer.requestPaint();
    showLoaded();
  },
  presence: (p) => presence.show(p),
  message: (text, tone) => message.show(text, tone),
});

const viewport = new Viewport(viewportElement, element("stage", HTMLElement), canvas, {
  click: (x, y) => {
    if (session.place(x, y, palette.selected) === "sent") refreshBudget();
  },
});

/** The canvas is hidden behind "Loading…" until a snapshot has given its pixels meaning. */
function showLoaded(): void {
  viewportElement.classList.toggle("loading", !session.canvas?.hasData);
}

function refreshBudget(): void {
  budget.show(session.budget(performance.now()));
}

element("zoom-in", HTMLButtonElement).addEventListener("click", () => viewport.zoomIn());
element("zoom-out", HTMLButtonElement).addEventListener("click", () => viewport.zoomOut());
element("zoom-fit", HTMLButtonElement).addEventListener("click", () => viewport.fit());

document.addEventListener("keydown", (e) => {
  // Leave shortcuts with modifiers (ctrl+1 switches tabs) and typing in fields to the browser.
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
  const digit = Number.parseInt(e.key, 10);
  if (e.key.length === 1 && digit >= 1 && digit <= KEYED_COLOURS) {
    palette.select(digit - 1);
  } else if (e.key === "+" || e.key === "=") {
    viewport.zoomIn();
  } else if (e.key === "-") {
    viewport.zoomOut();
  } else if (e.key === "0") {
    viewport.fit();
  } else {
    return;
  }
  e.preventDefault();
});

window.__pixelPlayground = {
  seq: () => session.seq,
  pixelAt: (x, y) => session.pixelAt(x, y),
  get state() {
    return session.status;
  },
};

setInterval(refreshBudget, BUDGET_REFRESH_MS);
session.start();
