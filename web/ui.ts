/**
 * @module ui
 * The page's small widgets, each bound to elements of index.html: the palette bar, the status line,
 * presence, the pixel budget, the unsent-pixel count, the frozen / banned banner, the help panel,
 * "served by" and the message line.
 * They only display what they are given; main.ts decides when.
 */

import type { Presence, ServerHello } from "../worker/protocol.ts";
import type { Budget, Moderation, Status } from "./session.ts";

/** The element with this id, checked to be of the expected kind (a missing element is a build bug). */
export function element<T extends HTMLElement>(id: string, kind: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof kind)) throw new Error(`index.html has no <${kind.name}> with id "${id}"`);
  return found;
}

export function hex(rgb: number): string {
  return `#${rgb.toString(16).padStart(6, "0")}`;
}

/** Relative luminance (WCAG), to pick a readable digit colour on each swatch. */
function luminance(rgb: number): number {
  const channel = (c: number): number => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel((rgb >> 16) & 0xff) + 0.7152 * channel((rgb >> 8) & 0xff) + 0.0722 * channel(rgb & 0xff);
}

/** Keys 1–9 pick the first nine colours; their swatches show the digit. */
export const KEYED_COLOURS = 9;

export class PaletteBar {
  private swatches: HTMLButtonElement[] = [];
  private palette: readonly number[] = [];
  private current = 0;

  constructor(
    private readonly container: HTMLElement,
    /** Called with the selected colour (0xRRGGBB) whenever the selection changes. */
    private readonly changed: (rgb: number) => void = () => {},
  ) {}

  get selected(): number {
    return this.current;
  }

  /** The colour (0xRRGGBB) of palette index `index`, if there is one. */
  rgb(index: number): number | undefined {
    return this.palette[index];
  }

  /** Selects the next (+1) or previous (−1) colour, wrapping around. */
  step(delta: number): void {
    const n = this.swatches.length;
    if (n > 0) this.select((((this.current + delta) % n) + n) % n);
  }

  /** Builds one button per colour, keeping the selection when it still exists. */
  build(palette: readonly number[]): void {
    this.palette = palette;
    this.swatches = palette.map((rgb, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "swatch";
      button.dataset.index = String(index);
      button.style.backgroundColor = hex(rgb);
      button.style.color = luminance(rgb) > 0.35 ? "#111" : "#fff";
      const key = index < KEYED_COLOURS ? ` (key ${index + 1})` : "";
      button.setAttribute("aria-label", `Colour ${index + 1}, ${hex(rgb)}${key}`);
      button.title = `${hex(rgb)}${key}`;
      if (index < KEYED_COLOURS) button.textContent = String(index + 1);
      button.addEventListener("click", () => this.select(index));
      return button;
    });
    this.container.replaceChildren(...this.swatches);
    this.select(this.current < palette.length ? this.current : 0);
  }

  select(index: number): void {
    if (index < 0 || index >= this.swatches.length) return;
    this.current = index;
    this.swatches.forEach((swatch, i) => {
      swatch.setAttribute("aria-pressed", String(i === index));
    });
    const rgb = this.palette[index];
    if (rgb !== undefined) this.changed(rgb);
  }
}

export class StatusLine {
  constructor(
    private readonly status: HTMLElement,
    private readonly reload: HTMLButtonElement,
  ) {
    reload.addEventListener("click", () => location.reload());
  }

  show(status: Status, text: string): void {
    this.status.dataset.state = status;
    this.status.textContent = text;
    this.reload.hidden = status !== "failed";
  }
}

export class PresenceView {
  constructor(
    private readonly total: HTMLElement,
    private readonly regions: HTMLElement,
  ) {}

  show(presence: Presence): void {
    this.total.textContent = `${presence.total} drawing now`;
    const items = [...presence.regions]
      .sort((a, b) => b.count - a.count || a.region.localeCompare(b.region))
      .map(({ region, count }) => {
        const item = document.createElement("li");
        item.textContent = `${region} ${count}`;
        return item;
      });
    this.regions.replaceChildren(...items);
  }
}

/**
 * The pixel budget, shown before it runs out: a bar that empties as pixels are placed and refills at
 * the server's rate, "n/burst pixels", and the wait for the next one once it is spent.
 */
export class BudgetView {
  private key = "";

  constructor(
    private readonly element: HTMLElement,
    private readonly label: HTMLElement,
    private readonly fill: HTMLElement,
  ) {}

  show(budget: Budget | undefined): void {
    let text = "";
    if (budget) {
      text = `${budget.available}/${budget.burst} pixels`;
      if (budget.available === 0 && Number.isFinite(budget.msUntilNext)) {
        text += ` · next in ${(budget.msUntilNext / 1000).toFixed(1)} s`;
      }
    }
    // Called several times a second: touch the DOM only when something shown changes (the rate is in
    // the tooltip, and an admin may change it alone).
    const key = `${text}|${budget?.pixelsPerSecond ?? ""}`;
    if (key === this.key) return;
    this.key = key;
    this.element.hidden = budget === undefined;
    this.label.textContent = text;
    if (budget) {
      this.fill.style.width = `${(100 * budget.available) / Math.max(1, budget.burst)}%`;
      this.element.title = `You may place ${budget.burst} pixels at once; the budget refills at ${budget.pixelsPerSecond} per second.`;
    }
    this.element.dataset.empty = String(budget !== undefined && budget.available === 0);
  }
}

/** How many of the page's own pixels wait to be sent (queued while not connected). */
export class OutboxView {
  constructor(private readonly element: HTMLElement) {}

  show(waiting: number): void {
    this.element.hidden = waiting === 0;
    this.element.textContent = waiting === 1 ? "1 pixel waiting to be sent" : `${waiting} pixels waiting to be sent`;
  }
}

/**
 * The banner's words for what stops this browser from drawing: a headline and a line of detail; none
 * when nothing does. Frozen is everyone's state and banned this browser's own, so the wordings differ;
 * when both hold, the banner names both (an unfreeze alone would not let this browser draw).
 */
export function moderationText({ frozen, banned }: Moderation): { headline: string; detail: string } | undefined {
  if (frozen && banned) {
    return {
      headline: "The canvas is frozen, and this browser may watch but not draw.",
      detail: "An unfreeze alone will not lift the ban.",
    };
  }
  if (banned) {
    return {
      headline: "This browser may watch but not draw.",
      detail: "An admin banned it from drawing; the canvas stays live.",
    };
  }
  if (frozen) {
    return {
      headline: "The canvas is frozen.",
      detail: "You can watch, but nobody can draw until it is unfrozen.",
    };
  }
  return undefined;
}

/**
 * A banner over the canvas while this browser may not draw (the canvas is frozen, or it is banned),
 * and `data-frozen` / `data-banned` on the page so the style can show that clicks place nothing (the
 * cursor says no).
 */
export class ModerationBanner {
  constructor(
    private readonly banner: HTMLElement,
    private readonly page: HTMLElement,
  ) {}

  show(moderation: Moderation): void {
    const text = moderationText(moderation);
    this.banner.hidden = text === undefined;
    this.banner.dataset.frozen = String(moderation.frozen);
    this.banner.dataset.banned = String(moderation.banned);
    if (text) {
      const headline = document.createElement("strong");
      headline.textContent = text.headline;
      this.banner.replaceChildren(headline, ` ${text.detail}`);
    }
    this.page.dataset.frozen = String(moderation.frozen);
    this.page.dataset.banned = String(moderation.banned);
  }
}

/** The keys and gestures, in a panel toggled by its button or "?". */
export class HelpPanel {
  constructor(
    private readonly panel: HTMLElement,
    private readonly toggleButton: HTMLButtonElement,
    closeButton: HTMLButtonElement,
  ) {
    toggleButton.addEventListener("click", () => this.toggle());
    closeButton.addEventListener("click", () => this.close());
  }

  get isOpen(): boolean {
    return !this.panel.hidden;
  }

  toggle(): void {
    if (this.isOpen) this.close();
    else this.open();
  }

  open(): void {
    this.panel.hidden = false;
    this.toggleButton.setAttribute("aria-expanded", "true");
  }

  close(): void {
    this.panel.hidden = true;
    this.toggleButton.setAttribute("aria-expanded", "false");
  }
}

export function showServedBy(element: HTMLElement, hello: ServerHello): void {
  element.textContent = `served by ${hello.region} · ${hello.isolateId.slice(0, 8)}`;
  element.title = `region ${hello.region}, isolate ${hello.isolateId}`;
}

/** How long a message stays before it fades. */
const MESSAGE_MS = 6_000;

export class MessageLine {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly element: HTMLElement) {}

  show(text: string, tone: "info" | "error"): void {
    this.element.textContent = text;
    this.element.dataset.tone = tone;
    this.element.classList.add("visible");
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.clear(), MESSAGE_MS);
  }

  clear(): void {
    this.element.classList.remove("visible");
    this.element.textContent = "";
  }
}
