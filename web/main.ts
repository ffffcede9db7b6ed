/**
 * @module main
 * The page's entry point: finds the elements of index.html, wires the session (protocol), the
 * renderer, the viewport, the cursor and the widgets together, binds the keys, and exposes a hook for
 * end-to-end tests and benchmarks. Everything with rules in it lives in the modules it imports.
 */

import { CanvasCursor, type CursorSource, QueueMarks } from "./cursor.ts";
import { IdentityLookup } from "./identity.ts";
import { PixelInfoPanel } from "./pixel-info.ts";
import { pixelLogSource } from "./provenance.ts";
import { CanvasRenderer } from "./renderer.ts";
import { Session } from "./session.ts";
import {
  BudgetView,
  element,
  HelpPanel,
  hex,
  KEYED_COLOURS,
  MessageLine,
  ModerationBanner,
  OutboxView,
  PaletteBar,
  PresenceView,
  StatusLine,
  showServedBy,
} from "./ui.ts";
import { type Point, Viewport } from "./viewport.ts";

/** What end-to-end tests and benchmarks may use. Only `placeUnchecked` changes anything. */
export interface PixelPlaygroundHooks {
  /** The sequence of the newest frame the page holds. */
  seq(): number;
  /** Palette index shown at (x, y): the server's colour or a pending placement's; -1 off the canvas. */
  pixelAt(x: number, y: number): number;
  readonly state: Session["status"];
  /** Pixels applied from the server's Pixels frames, and canvas repaints (putImageData calls), since load. */
  counters(): { pixelsApplied: number; paints: number };
  /** Places like a click, but without the page's own checks of budget, freeze and ban (the server may refuse it). */
  placeUnchecked(x: number, y: number, colour: number): void;
  /** The page's own pixels awaiting the server's verdict or queued while not connected. */
  pending(): number;
  /** The page's own anonymous identity, once the server has said it. */
  identity(): string | undefined;
}

declare global {
  interface Window {
    __pixelPlayground?: PixelPlaygroundHooks;
  }
}

const SNAPSHOT_URL = "/api/canvas";
const SESSION_URL = "/api/session";
const PIXEL_URL = "/api/pixel";
/**
 * How long the socket waits for the identity request at start. Asking first means a new browser gets
 * one identity, from that request, rather than two racing ones; a server slow to answer must not keep
 * the canvas away, though (the socket sets the cookie too, and the page asks again later).
 */
const IDENTITY_WAIT_MS = 3_000;
/** How often the pixel budget is redrawn while it refills. */
const BUDGET_REFRESH_MS = 200;

const canvas = element("canvas", HTMLCanvasElement);
const viewportElement = element("viewport", HTMLElement);
const palette = new PaletteBar(element("palette", HTMLElement), (rgb) => {
  cursor.colour = hex(rgb);
});
const statusLine = new StatusLine(element("status", HTMLElement), element("reload", HTMLButtonElement));
const presence = new PresenceView(element("presence", HTMLElement), element("regions", HTMLElement));
const budget = new BudgetView(
  element("budget", HTMLElement),
  element("budget-text", HTMLElement),
  element("budget-fill", HTMLElement),
);
const outbox = new OutboxView(element("outbox", HTMLElement));
const moderationBanner = new ModerationBanner(element("moderation", HTMLElement), document.body);
const message = new MessageLine(element("message", HTMLElement));
const help = new HelpPanel(
  element("help", HTMLElement),
  element("help-toggle", HTMLButtonElement),
  element("help-close", HTMLButtonElement),
);
const inspectButton = element("inspect", HTMLButtonElement);
const coords = element("coords", HTMLElement);
const cursorLive = element("cursor-live", HTMLElement);
const servedBy = element("served-by", HTMLElement);
const renderer = new CanvasRenderer(canvas);

const socketUrl = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
const session = new Session(socketUrl, SNAPSHOT_URL, {
  status: (status, text) => {
    statusLine.show(status, text);
    showOutbox();
  },
  canvas: (state, hello) => {
    renderer.attach(state, hello.palette);
    palette.build(hello.palette);
    viewport.setSize(state.width, state.height);
    pixelInfo.close();
    showLoaded();
  },
  hello: (hello) => showServedBy(servedBy, hello),
  pixels: () => {
    renderer.requestPaint();
    showLoaded();
    if (pixelInfo.isOpen) refreshInfoSoon();
  },
  presence: (p) => presence.show(p),
  message: (text, tone) => message.show(text, tone),
  outbox: (queued) => {
    marks.show(queued);
    showOutbox();
  },
  moderation: (moderation) => moderationBanner.show(moderation),
});

const viewport = new Viewport(viewportElement, element("stage", HTMLElement), canvas, {
  click: (x, y) => {
    if (inspecting) pixelInfo.open(x, y);
    else place(x, y);
  },
  inspect: (x, y) => pixelInfo.open(x, y),
  hover: (pixel) => cursor.hover(pixel),
  changed: () => {
    cursor.render();
    marks.render();
  },
});

const cursor = new CanvasCursor(viewport, element("cursor", HTMLElement), showCursor);
const marks = new QueueMarks(viewport, element("marks", HTMLElement));
const identity = new IdentityLookup(SESSION_URL);
const pixelInfo = new PixelInfoPanel(
  element("pixel-info", HTMLElement),
  (x, y) => {
    const state = session.canvas;
    const colour = state?.colourAt(x, y);
    const rgb = colour === undefined ? undefined : palette.rgb(colour);
    if (!state || colour === undefined || rgb === undefined) return undefined;
    return { x, y, colour, rgb, unconfirmed: state.isUnconfirmed(x, y) };
  },
  pixelLogSource(PIXEL_URL, () => identity.get()),
);
let inspecting = false;

function place(x: number, y: number): void {
  if (session.place(x, y, palette.selected) === "sent") refreshBudget();
}

/** The canvas is hidden behind "Loading…" until a snapshot has given its pixels meaning. */
function showLoaded(): void {
  viewportElement.classList.toggle("loading", !session.canvas?.hasData);
}

function refreshBudget(): void {
  budget.show(session.budget(performance.now()));
}

/** Unsent pixels: the queue, and while not connected also those sent but never answered. */
function showOutbox(): void {
  const waiting = session.status === "connected" ? session.queued : session.pending;
  outbox.show(waiting);
}

let infoScheduled = false;
/** Pixels change up to 50 times a second; the open info panel follows once per animation frame. */
function refreshInfoSoon(): void {
  if (infoScheduled) return;
  infoScheduled = true;
  requestAnimationFrame(() => {
    infoScheduled = false;
    pixelInfo.refresh();
  });
}

function showCursor(at: Point | undefined, source: CursorSource): void {
  coords.hidden = at === undefined;
  if (at) coords.textContent = `${at.x}, ${at.y}`;
  // Announce keyboard moves only: a mouse sweeping the canvas would flood a screen reader.
  if (at && source === "keyboard") {
    const colour = session.pixelAt(at.x, at.y);
    const rgb = palette.rgb(colour);
    cursorLive.textContent = `${at.x}, ${at.y}${rgb === undefined ? "" : `: ${hex(rgb)}`}`;
  }
}

function setInspecting(on: boolean): void {
  inspecting = on;
  inspectButton.setAttribute("aria-pressed", String(on));
  viewportElement.classList.toggle("inspecting", on);
}

element("zoom-in", HTMLButtonElement).addEventListener("click", () => viewport.zoomIn());
element("zoom-out", HTMLButtonElement).addEventListener("click", () => viewport.zoomOut());
element("zoom-fit", HTMLButtonElement).addEventListener("click", () => viewport.fit());
inspectButton.addEventListener("click", () => setInspecting(!inspecting));

// The keyboard cursor shows while the canvas has the focus from the keyboard (not from a click).
viewportElement.addEventListener("focus", () => {
  if (viewportElement.matches(":focus-visible")) cursor.focus();
});
viewportElement.addEventListener("blur", () => cursor.blur());

document.addEventListener("keydown", (e) => {
  // Leave shortcuts with modifiers (ctrl+1 switches tabs) and typing in fields to the browser.
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const target = e.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
  const state = session.canvas;
  // Arrows, Enter and Space act on the canvas only while it has the focus: elsewhere they belong to
  // the focused button.
  if (target === viewportElement && state) {
    if (cursor.step(e.key, e.shiftKey, state.width, state.height)) {
      e.preventDefault();
      return;
    }
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      if (e.repeat) return;
      const at = cursor.position;
      if (!at) {
        cursor.focus();
        return;
      }
      if (inspecting) pixelInfo.open(at.x, at.y);
      else place(at.x, at.y);
      return;
    }
  }
  const digit = Number.parseInt(e.key, 10);
  if (e.key.length === 1 && digit >= 1 && digit <= KEYED_COLOURS) {
    palette.select(digit - 1);
  } else if (e.key === "[") {
    palette.step(-1);
  } else if (e.key === "]") {
    palette.step(1);
  } else if (e.key === "+" || e.key === "=") {
    viewport.zoomIn();
  } else if (e.key === "-") {
    viewport.zoomOut();
  } else if (e.key === "0") {
    viewport.fit();
  } else if (e.key === "?") {
    help.toggle();
  } else if (e.key === "i" || e.key === "I") {
    const at = cursor.position;
    if (at) pixelInfo.open(at.x, at.y);
    else setInspecting(!inspecting);
  } else if (e.key === "Escape") {
    if (help.isOpen) help.close();
    else if (pixelInfo.isOpen) pixelInfo.close();
    else if (inspecting) setInspecting(false);
    else return;
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
  counters: () => ({ pixelsApplied: session.pixelsApplied, paints: renderer.paints }),
  placeUnchecked: (x, y, colour) => {
    session.place(x, y, colour, { checkLocally: false });
  },
  pending: () => session.pending,
  identity: () => identity.id,
};

setInterval(refreshBudget, BUDGET_REFRESH_MS);
moderationBanner.show({ frozen: false, banned: false });
void Promise.race([identity.get(), new Promise((resolve) => setTimeout(resolve, IDENTITY_WAIT_MS))]).then(() =>
  session.start(),
);
