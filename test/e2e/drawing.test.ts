/**
 * End to end, as a person uses it: the real local stack (`wrangler dev`), two headless Chromium tabs,
 * real clicks. A pixel drawn in one tab appears in the other; the picture survives a restart of the
 * whole stack on the same state; a tab left open reconnects and ends with the server's canvas.
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchSnapshot } from "../../loadtest/client.ts";
import { type Stack, startStack } from "../../loadtest/stack.ts";
import {
  canvasOf,
  clickPixel,
  launch,
  openCanvas,
  pixelAt,
  seqOf,
  waitConnected,
  waitPixel,
} from "../support/browser.ts";

const OUT = "test-results";
// A small canvas keeps the page-to-server comparison cheap; the default 1000×1000 is covered by the bench.
const VARS = { CANVAS_WIDTH: "64", CANVAS_HEIGHT: "48" };

/** The server's canvas, from the snapshot endpoint; waits out the edge cache until it holds `minSeq`. */
async function serverCanvas(url: string, minSeq = 0): Promise<{ seq: number; pixels: number[] }> {
  for (const deadline = Date.now() + 5000; ; ) {
    const { decoded } = await fetchSnapshot(url, 32);
    if (!decoded.ok) throw new Error(decoded.error.message);
    if (decoded.value.seq >= minSeq || Date.now() > deadline) {
      return { seq: decoded.value.seq, pixels: [...decoded.value.pixels] };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("two tabs on the real local stack", () => {
  let stack: Stack;
  let browser: Browser;
  let a: Page;
  let b: Page;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    [stack, browser] = await Promise.all([startStack({ vars: VARS }), launch()]);
    a = await openCanvas(browser, stack.url);
    b = await openCanvas(browser, stack.url);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("[P16] both tabs show 2 drawing now, in the local region", async () => {
    for (const page of [a, b]) {
      await page.waitForFunction(() => document.querySelector("#presence")?.textContent === "2 drawing now");
      expect(await page.locator("#regions").textContent()).toBe("local 2");
    }
  });

  it("a pixel clicked in tab A appears in tab B", async () => {
    await clickPixel(a, 10, 12, 5);
    await waitPixel(b, 10, 12, 5);
    await clickPixel(b, 40, 30, 13);
    await waitPixel(a, 40, 30, 13);
    expect(await pixelAt(a, 10, 12)).toBe(5);
    expect(await seqOf(a)).toBe(await seqOf(b));
    await b.screenshot({ path: `${OUT}/e2e-tab-b.png` });
  });

  it("the picture survives a restart of the stack, and the open tabs reconnect and catch up", async () => {
    await clickPixel(a, 20, 20, 7);
    await waitPixel(b, 20, 20, 7);
    const before = await serverCanvas(stack.url, await seqOf(b));
    const { persistTo, port } = stack;
    await stack.stop();
    await b.waitForFunction(() => window.__pixelPlayground?.state !== "connected");
    stack = await startStack({ vars: VARS, persistTo, port });
    // A fresh tab sees the old picture…
    const c = await openCanvas(browser, stack.url);
    expect(await pixelAt(c, 10, 12)).toBe(5);
    expect(await pixelAt(c, 40, 30)).toBe(13);
    expect(await pixelAt(c, 20, 20)).toBe(7);
    const after = await serverCanvas(stack.url);
    expect(after.seq).toBe(before.seq);
    expect(after.pixels).toEqual(before.pixels);
    // …and the tabs that were open reconnect by themselves and keep drawing with everyone.
    await waitConnected(a, 30_000);
    await waitConnected(b, 30_000);
    await clickPixel(c, 1, 1, 9);
    await waitPixel(a, 1, 1, 9);
    await waitPixel(b, 1, 1, 9);
    const final = await serverCanvas(stack.url, await seqOf(b));
    expect(final.seq).toBe(await seqOf(b));
    expect(await canvasOf(b, 64, 48)).toEqual(final.pixels);
    await b.screenshot({ path: `${OUT}/e2e-after-restart.png` });
  });
});
