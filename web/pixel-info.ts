/**
 * @module pixel-info
 * The "what is this pixel?" panel: coordinates and current colour of one pixel, kept current while it
 * is open, and whether it is one of this page's own pixels still waiting for the server.
 *
 * Who placed a pixel and when is not known to the page: the server keeps no per-pixel history yet (a
 * pixel log at an endpoint still to be designed is planned). The panel already has rows for it, shown
 * only when a `ProvenanceSource` is given and answers; until then none is wired (see docs/web.md).
 */

import { hex } from "./ui.ts";

/** Who placed a pixel and when, as far as the server knows. */
export interface Provenance {
  placedBy?: string;
  placedAt?: Date;
}

/** Looks up who placed (x, y) and when; undefined when unknown. Aborted when the panel moves on. */
export type ProvenanceSource = (x: number, y: number, signal: AbortSignal) => Promise<Provenance | undefined>;

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
  private lookup: AbortController | undefined;
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
    this.target = { x, y };
    this.root.hidden = false;
    this.showProvenance(undefined);
    this.refresh();
    this.lookup?.abort();
    this.lookup = undefined;
    const source = this.provenance;
    if (!source) return;
    const lookup = new AbortController();
    this.lookup = lookup;
    source(x, y, lookup.signal).then(
      (found) => {
        if (!lookup.signal.aborted) this.showProvenance(found);
      },
      () => {
        // Unknown is shown as nothing: the panel's other facts stand on their own.
      },
    );
  }

  close(): void {
    this.target = undefined;
    this.lookup?.abort();
    this.lookup = undefined;
    this.root.hidden = true;
  }

  /** Shows the pixel's current colour (call when pixels changed). */
  refresh(): void {
    const target = this.target;
    if (!target) return;
    const facts = this.facts(target.x, target.y);
    if (!facts) {
      this.close();
      return;
    }
    this.title.textContent = `Pixel ${facts.x}, ${facts.y}`;
    this.chip.style.backgroundColor = hex(facts.rgb);
    this.colour.textContent = `${hex(facts.rgb)} · colour ${facts.colour + 1}`;
    this.note.hidden = !facts.unconfirmed;
  }

  private showProvenance(found: Provenance | undefined): void {
    this.byRow.hidden = found?.placedBy === undefined;
    this.by.textContent = found?.placedBy ?? "";
    const when = found?.placedAt;
    this.atRow.hidden = when === undefined;
    this.at.dateTime = when?.toISOString() ?? "";
    this.at.textContent = when?.toLocaleString() ?? "";
  }
}
