/**
 * Headless Chromium for the end-to-end tier: Debian's chromium driven by playwright-core (no browser
 * download), with the flags this closed network needs, plus helpers that act on the page the way a
 * person does — real clicks at the screen position of a canvas pixel.
 */
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** The page's test hooks (web/main.ts, PixelPlaygroundHooks). */
interface Hooks {
  seq(): number;
  pixelAt(x: number, y: number): number;
  state: string;
  counters(): { pixelsApplied: number; paints: number };
  placeUnchecked(x: number, y: number, colour: number): void;
  pending(): number;
  identity(): string | undefined;
}
declare global {
  interface Window {
    __pixelPlayground?: Hooks;
  }
}

/** Opens the page and waits until it holds the canvas and is live. */
export async function openCanvas(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  await page.goto(url);
  await waitConnected(page);
  return page;
}

export async function waitConnected(page: Page, timeout = 20_000): Promise<void> {
  await page.waitForFunction(() => window.__pixelPlayground?.state === "connected", undefined, { timeout });
}

export function pixelAt(page: Page, x: number, y: number): Promise<number> {
  return page.evaluate(([px, py]) => window.__pixelPlayground?.pixelAt(px, py) ?? -2, [x, y] as const);
}

export function seqOf(page: Page): Promise<number> {
  return page.evaluate(() => window.__pixelPlayground?.seq() ?? -1);
}

/** Waits until the page shows `colour` at (x, y). */
export async function waitPixel(page: Page, x: number, y: number, colour: number, timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    ([px, py, c]) => window.__pixelPlayground?.pixelAt(px, py) === c,
    [x, y, colour] as const,
    { timeout },
  );
}

/** Selects a palette colour and clicks the canvas pixel (x, y) where it is on screen. */
export async function clickPixel(page: Page, x: number, y: number, colour: number): Promise<void> {
  await page.click(`.swatch[data-index="${colour}"]`);
  const box = await page.locator("#canvas").boundingBox();
  if (!box) throw new Error("the canvas is not on screen");
  const size = await page.evaluate(() => {
    const c = document.querySelector("#canvas");
    return c instanceof HTMLCanvasElement ? { w: c.width, h: c.height } : { w: 0, h: 0 };
  });
  await page.mouse.click(box.x + ((x + 0.5) * box.width) / size.w, box.y + ((y + 0.5) * box.height) / size.h);
}

/** The page's whole canvas as palette indices (server truth plus pending), for comparisons. */
export function canvasOf(page: Page, width: number, height: number): Promise<number[]> {
  return page.evaluate(
    ([w, h]) => {
      const out: number[] = [];
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.push(window.__pixelPlayground?.pixelAt(x, y) ?? -2);
      return out;
    },
    [width, height] as const,
  );
}

/** Where the centre of canvas pixel (x, y) is on screen, in CSS pixels (for clicks and taps). */
export async function screenPoint(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  const box = await page.locator("#canvas").boundingBox();
  if (!box) throw new Error("the canvas is not on screen");
  const size = await page.evaluate(() => {
    const c = document.querySelector("#canvas");
    return c instanceof HTMLCanvasElement ? { w: c.width, h: c.height } : { w: 0, h: 0 };
  });
  return { x: box.x + ((x + 0.5) * box.width) / size.w, y: box.y + ((y + 0.5) * box.height) / size.h };
}

/** The page's own pixels awaiting the server's verdict or queued while disconnected. */
export function pendingOf(page: Page): Promise<number> {
  return page.evaluate(() => window.__pixelPlayground?.pending() ?? -1);
}

/** Pixels applied from server frames and canvas repaints since the page loaded. */
export function countersOf(page: Page): Promise<{ pixelsApplied: number; paints: number }> {
  return page.evaluate(() => window.__pixelPlayground?.counters() ?? { pixelsApplied: -1, paints: -1 });
}

/** Shift+clicks the canvas pixel (x, y): opens the pixel info panel on it. */
export async function inspectPixel(page: Page, x: number, y: number): Promise<void> {
  const at = await screenPoint(page, x, y);
  await page.keyboard.down("Shift");
  await page.mouse.click(at.x, at.y);
  await page.keyboard.up("Shift");
}

/** Waits until the page has no pixels of its own pending or queued. */
export async function waitSettled(page: Page, timeout = 10_000): Promise<void> {
  await page.waitForFunction(() => window.__pixelPlayground?.pending() === 0, undefined, { timeout });
}
