/**
 * @module pixel-info
 * The "what is this pixel?" panel: coordinates and current colour of one pixel, kept current while it
 * is open, whether it is one of this page's own pixels still waiting for the server, and who placed it
 * and when, from a `ProvenanceSource` (provenance.ts asks the server's pixel log).
 *
 * The panel never shows an author that does not match the colour on screen. An answer names the
 * colour it is about, and is shown only while the pixel shows that colour. While the pixel is the
 * page's own and unconfirmed, it says "you" without asking (the server does not know of it yet); when
 * the colour changes or the pixel is confirmed, it asks again, at most every half second (a busy pixel
 * changes many times a second).
 */

import { hex } from "./ui.ts";

/** Who placed a pixel and when, as far as the server knows. */
export interface Provenance {
  /** The colour the answer is about: it is shown only while the pixel shows this colour. */
  colour: number;
  /** In words: "you", "admin", or a short form of an anonymous identity. */
  placedBy?: string;
  /** The whole identity, when there is one. */
  placedById?: string;
  placedAt?: Date;
}

/** Looks up who placed (x, y) and when; undefined when unknown. Aborted when the panel moves on. */
export type ProvenanceSource = (x: number, y: number, signal: AbortSignal) => Promise<Provenance | undefined>;

/** Least time between two lookups for the same open panel. */
const LOOKUP_INTERVAL_MS = 500;

export interface PixelFacts {
  x: number;
  y: number;
  /** Palette index shown there. */
  colour: number;
  /** That colour as 0xRRGGBB. */
  rgb: number;
  /** One of this page's own pixels, not yet confirmed by the server. */
  unconfirmed: boolean;
}

export class PixelInfoPanel {
  private target: { x: number; y: number } | undefined;
  /** The facts last shown, to notice when the colour or its confirmation changed. */
  private shown: PixelFacts | undefined;
  /** The source's latest answer for the target. */
  private answer: Provenance | undefined;
  private lookup: AbortController | undefined;
  private lookupTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly title: HTMLElement;
  private readonly chip: HTMLElement;
  private readonly colour: HTMLElement;
  private readonly note: HTMLElement;
  private readonly byRow: HTMLElement;
  private readonly by: HTMLElement;
  private readonly atRow: HTMLElement;
  private readonly at: HTMLTimeElement;

  constructor(
    private readonly root: HTMLElement,
    /** The facts about a pixel as the page shows it now; undefined outside the canvas. */
    private readonly facts: (x: number, y: number) => PixelFacts | undefined,
    private readonly provenance: ProvenanceSource | undefined = undefined,
  ) {
    const part = <T extends Element>(selector: string, kind: new () => T): T => {
      const found = root.querySelector(selector);
      if (!(found instanceof kind)) throw new Error(`the pixel info panel has no ${selector}`);
      return found;
    };
    this.title = part("[data-part=title]", HTMLElement);
    this.chip = part("[data-part=chip]", HTMLElement);
    this.colour = part("[data-part=colour]", HTMLElement);
    this.note = part("[data-part=note]", HTMLElement);
    this.byRow = part("[data-part=by-row]", HTMLElement);
    this.by = part("[data-part=by]", HTMLElement);
    this.atRow = part("[data-part=at-row]", HTMLElement);
    this.at = part("[data-part=at]", HTMLTimeElement);
    part("[data-part=close]", HTMLButtonElement).addEventListener("click", () => this.close());
  }

  get isOpen(): boolean {
    return this.target !== undefined;
  }

  open(x: number, y: number): void {
    if (!this.facts(x, y)) return;
    this.cancelLookup();
    this.target = { x, y };
    this.shown = undefined;
    this.answer = undefined;
    this.root.hidden = false;
    this.refresh();
    this.startLookup();
  }

  close(): void {
    this.target = undefined;
    this.shown = undefined;
    this.answer = undefined;
    this.cancelLookup();
    this.root.hidden = true;
  }

  /** Shows the pixel as it is now (call when pixels changed); asks again who placed it if that changed. */
  refresh(): void {
    const target = this.target;
    if (!target) return;
    const facts = this.facts(target.x, target.y);
    if (!facts) {
      this.close();
      return;
    }
    const before = this.shown;
    this.shown = facts;
    this.title.textContent = `Pixel ${facts.x}, ${facts.y}`;
    this.chip.style.backgroundColor = hex(facts.rgb);
    this.colour.textContent = `${hex(facts.rgb)} · colour ${facts.colour + 1}`;
    this.note.hidden = !facts.unconfirmed;
    this.showProvenance(facts);
    if (before && (before.colour !== facts.colour || before.unconfirmed !== facts.unconfirmed)) this.lookupSoon();
  }

  /** Asks the source now, unless the pixel is the page's own unconfirmed one (the server cannot know). */
  private startLookup(): void {
    const source = this.provenance;
    const target = this.target;
    if (!source || !target || this.shown?.unconfirmed) return;
    this.lookup?.abort();
    const lookup = new AbortController();
    this.lookup = lookup;
    source(target.x, target.y, lookup.signal).then(
      (found) => {
        if (lookup.signal.aborted) return;
        this.answer = found;
        if (this.shown) this.showProvenance(this.shown);
      },
      (error: unknown) => {
        // Unknown is shown as nothing: the panel's other facts stand on their own.
        if (!lookup.signal.aborted) console.warn("pixel playground: who placed the pixel is unknown:", error);
      },
    );
  }

  /** Asks again after the pixel changed: at most once per LOOKUP_INTERVAL_MS, with the facts then. */
  private lookupSoon(): void {
    if (this.lookupTimer !== undefined || !this.provenance) return;
    this.lookupTimer = setTimeout(() => {
      this.lookupTimer = undefined;
      this.startLookup();
    }, LOOKUP_INTERVAL_MS);
  }

  private cancelLookup(): void {
    this.lookup?.abort();
    this.lookup = undefined;
    if (this.lookupTimer !== undefined) clearTimeout(this.lookupTimer);
    this.lookupTimer = undefined;
  }

  private showProvenance(facts: PixelFacts): void {
    // The page's own pending pixel is "you", whatever the server's log says about the pixel before it.
    const answer: Provenance | undefined = facts.unconfirmed
      ? { colour: facts.colour, placedBy: "you" }
      : this.answer?.colour === facts.colour
        ? this.answer
        : undefined;
    const by = answer?.placedBy;
    this.byRow.hidden = by === undefined;
    this.by.textContent = by ?? "";
    this.by.title = answer?.placedById ?? "";
    const when = answer?.placedAt;
    this.atRow.hidden = when === undefined;
    this.at.dateTime = when?.toISOString() ?? "";
    this.at.textContent = when?.toLocaleString() ?? "";
  }
}
