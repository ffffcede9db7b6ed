/**
 * End to end, the page's promises to the person using it (docs/web.md), on the real local stack
 * (`wrangler dev`) in headless Chromium: a pixel the server refuses is rolled back at once with a
 * message and reaches nobody; the keyboard alone can place a pixel; a phone can tap one in without the
 * layout overflowing; pixels placed while the server is down wait in a bounded queue and arrive once it
 * is back. A second page ("the watcher") checks what everyone else sees. Screenshots of the desktop and
 * phone pages go to test-results/.
 *
 * The stack runs with a tiny budget (2 pixels, 1 per second) so the limit is easy to reach. Each page
 * is its own connection, so each starts with a full budget.
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../../loadtest/stack.ts";
import {
  clickPixel,
  countersOf,
  launch,
  openCanvas,
  pendingOf,
  pixelAt,
  screenPoint,
  seqOf,
  waitConnected,
  waitPixel,
  waitSettled,
} from "../support/browser.ts";

const OUT = "test-results";
const VARS = {
  CANVAS_WIDTH: "64",
  CANVAS_HEIGHT: "48",
  RATE_LIMIT_PIXEL_BURST: "2",
  RATE_LIMIT_PIXELS_PER_SECOND: "1",
};
/** The colour of an untouched pixel on a new canvas. */
const BLANK = 0;

/** Waits until `page` holds at least the sequence `other` holds, so they can be compared. */
async function waitSeq(page: Page, other: Page): Promise<void> {
  const seq = await seqOf(other);
  await page.waitForFunction((s) => (window.__pixelPlayground?.seq() ?? 0) >= s, seq, { timeout: 10_000 });
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).textContent()) ?? "";
}

describe("the page on the real local stack", () => {
  let stack: Stack;
  let browser: Browser;
  let watcher: Page;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    [stack, browser] = await Promise.all([startStack({ vars: VARS }), launch()]);
    watcher = await openCanvas(browser, stack.url);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("[P11][P6] a placement the server rate-limits is rolled back at once, with a message, and nobody sees it", async () => {
    const page = await openCanvas(browser, stack.url);
    // The limit is on show before anyone reaches it.
    await page.waitForFunction(() => document.querySelector("#budget-text")?.textContent === "2/2 pixels");
    const before = (await countersOf(watcher)).pixelsApplied;
    const spots = [5, 6, 7, 8].map((x) => ({ x, y: 5 }));
    // Four at once, past the page's own budget check: the server accepts its burst of 2 and refuses the rest.
    const placed = await page.evaluate((xs) => {
      for (const { x, y } of xs) window.__pixelPlayground?.placeUnchecked(x, y, 7);
      return window.__pixelPlayground?.pending();
    }, spots);
    expect(placed).toBe(4);

    await page.waitForFunction(() => /rate limited/i.test(document.querySelector("#message")?.textContent ?? ""));
    expect(await text(page, "#message")).toMatch(/taken back/);
    await waitSettled(page);
    const shown = await Promise.all(spots.map(({ x, y }) => pixelAt(page, x, y)));
    const accepted = shown.filter((c) => c === 7).length;
    // Every pixel is either the server's (accepted) or back to the blank it was: no phantom pixels.
    expect(shown.every((c) => c === 7 || c === BLANK)).toBe(true);
    expect(accepted).toBeGreaterThanOrEqual(1);
    expect(accepted).toBeLessThanOrEqual(2);

    // The watcher shows exactly what the page shows, and received only the accepted pixels [P6].
    await waitSeq(watcher, page);
    expect(await Promise.all(spots.map(({ x, y }) => pixelAt(watcher, x, y)))).toEqual(shown);
    expect((await countersOf(watcher)).pixelsApplied - before).toBe(accepted);
    await page.close();
  });

  it("places a pixel with the keyboard alone: Tab to the canvas, arrows, Enter", async () => {
    const page = await openCanvas(browser, stack.url);
    for (let i = 0; i < 8 && (await page.evaluate(() => document.activeElement?.id)) !== "viewport"; i++) {
      await page.keyboard.press("Tab");
    }
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("viewport");
    // The focus is visible, and so is the cursor.
    expect(await page.evaluate(() => document.querySelector("#viewport")?.matches(":focus-visible"))).toBe(true);
    expect(await page.locator("#viewport").evaluate((el) => getComputedStyle(el).outlineStyle)).toBe("solid");
    await expect.poll(() => page.locator("#cursor").isVisible()).toBe(true);

    const coords = async () => (await text(page, "#coords")).split(",").map((n) => Number.parseInt(n, 10));
    const [x0 = -1, y0 = -1] = await coords();
    await page.keyboard.press("5");
    for (const key of ["ArrowRight", "ArrowRight", "ArrowRight", "ArrowDown", "ArrowDown"]) {
      await page.keyboard.press(key);
    }
    await page.keyboard.press("Shift+ArrowLeft");
    const [x = -1, y = -1] = await coords();
    expect([x, y]).toEqual([x0 + 3 - 10, y0 + 2]);

    await page.keyboard.press("Enter");
    // Shown at once as pending, then confirmed; everyone else sees it.
    expect(await pixelAt(page, x, y)).toBe(4);
    await waitPixel(watcher, x, y, 4);
    await waitSettled(page);

    // I tells the pixel's colour; ? shows the keys; Esc closes.
    await page.keyboard.press("i");
    await expect.poll(() => text(page, "#pixel-info")).toMatch(new RegExp(`Pixel ${x}, ${y}[\\s\\S]*colour 5`));
    await page.keyboard.press("?");
    expect(await page.locator("#help").isVisible()).toBe(true);
    await page.screenshot({ path: `${OUT}/page-desktop-help.png` });
    await page.keyboard.press("Escape");
    expect(await page.locator("#help").isVisible()).toBe(false);
    await page.screenshot({ path: `${OUT}/page-desktop.png` });
    await page.close();
  });

  it("works on a phone: a tap places, a long press inspects, nothing overflows sideways", async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      hasTouch: true,
      isMobile: true,
      deviceScaleFactor: 2,
    });
    const phone = await context.newPage();
    await phone.goto(stack.url);
    await waitConnected(phone);
    const swatch = await phone.locator('.swatch[data-index="8"]').boundingBox();
    if (!swatch) throw new Error("no swatch 9 on screen");
    await phone.touchscreen.tap(swatch.x + swatch.width / 2, swatch.y + swatch.height / 2);
    expect(await phone.locator('.swatch[data-index="8"]').getAttribute("aria-pressed")).toBe("true");

    const at = await screenPoint(phone, 20, 30);
    await phone.touchscreen.tap(at.x, at.y);
    await waitPixel(watcher, 20, 30, 8);
    await waitSettled(phone);

    // A long press (a touch held still) shows the pixel's info instead of placing.
    const cdp = await context.newCDPSession(phone);
    const point = { x: at.x, y: at.y, id: 1 };
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [point] });
    await phone.waitForTimeout(700);
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    await expect.poll(() => phone.locator("#pixel-info").isVisible()).toBe(true);
    expect(await text(phone, "#pixel-info")).toMatch(/Pixel 20, 30/);
    expect(await pendingOf(phone)).toBe(0);

    const widths = await phone.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
    expect(widths.scroll).toBeLessThanOrEqual(widths.inner);
    await phone.screenshot({ path: `${OUT}/page-phone.png` });
    await context.close();
  });

  it("[P19] opens its edge socket, then its live socket from its sequence, sends nothing on the live one, and resumes it", async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    const sockets: { path: string; from: string | null; sent: number }[] = [];
    page.on("websocket", (ws) => {
      const url = new URL(ws.url());
      const entry = { path: url.pathname, from: url.searchParams.get("from"), sent: 0 };
      sockets.push(entry);
      ws.on("framesent", () => {
        entry.sent += 1;
      });
    });
    await page.goto(stack.url);
    await waitConnected(page);
    expect(sockets.map((s) => s.path)).toEqual(["/ws", "/ws/live"]);
    expect(sockets[1]?.from).toMatch(/^\d+$/);
    // The broadcast reaches the page on its live socket: a pixel the watcher draws shows up.
    await clickPixel(watcher, 5, 40, 3);
    await waitPixel(page, 5, 40, 3);
    const seq = await seqOf(page);
    // A woken tab drops both sockets and resumes: the new live socket replays from where it was.
    await page.evaluate(() => document.dispatchEvent(new Event("resume")));
    await expect.poll(() => sockets.length, { timeout: 10_000 }).toBe(4);
    await waitConnected(page);
    expect(sockets.map((s) => s.path)).toEqual(["/ws", "/ws/live", "/ws", "/ws/live"]);
    expect(Number(sockets[3]?.from)).toBeGreaterThanOrEqual(seq);
    await clickPixel(watcher, 6, 40, 4);
    await waitPixel(page, 6, 40, 4);
    // The page spoke on its edge sockets (hellos, catch-ups) and never on a live socket.
    expect(sockets.filter((s) => s.path === "/ws/live").map((s) => s.sent)).toEqual([0, 0]);
    expect(sockets.filter((s) => s.path === "/ws").every((s) => s.sent >= 1)).toBe(true);
    await page.close();
  });

  it("queues pixels placed while the server is down, shows them as waiting, and sends them when it is back", async () => {
    const page = await openCanvas(browser, stack.url);
    const { persistTo, port } = stack;
    await stack.stop();
    await page.waitForFunction(() => window.__pixelPlayground?.state !== "connected");
    expect(["reconnecting", "offline"]).toContain(await page.locator("#status").getAttribute("data-state"));

    // Three pixels, more than the budget of 2: on reconnect they go as the budget allows.
    const spots = [30, 31, 32].map((x) => ({ x, y: 20 }));
    for (const { x, y } of spots) await clickPixel(page, x, y, 10);
    expect(await pendingOf(page)).toBe(3);
    expect(await text(page, "#outbox")).toBe("3 pixels waiting to be sent");
    expect(await page.locator("#marks .mark").count()).toBe(3);
    expect(await pixelAt(page, 30, 20)).toBe(10);
    expect(await text(page, "#message")).toMatch(/queued/);
    await page.screenshot({ path: `${OUT}/page-desktop-offline.png` });

    stack = await startStack({ vars: VARS, persistTo, port });
    await waitConnected(page, 30_000);
    await waitSettled(page, 15_000);
    expect(await page.locator("#outbox").isVisible()).toBe(false);
    expect(await page.locator("#marks .mark").count()).toBe(0);
    // Settled and still shown: accepted (a refusal would have rolled them back to blank).
    const message = await text(page, "#message");
    for (const { x, y } of spots) expect(await pixelAt(page, x, y), message).toBe(10);
    // They reached the server: a page opened now has them, and so has the watcher once reconnected.
    const fresh = await openCanvas(browser, stack.url);
    for (const { x, y } of spots) await waitPixel(fresh, x, y, 10);
    for (const { x, y } of spots) await waitPixel(watcher, x, y, 10, 30_000);
  });
});
