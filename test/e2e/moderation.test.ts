/**
 * End to end, what moderation and the pixel log look like from the page (docs/web.md), on the real
 * local stack (`wrangler dev`, whose ADMIN_TOKEN is "local-admin-token") in headless Chromium. Two
 * browser contexts are two anonymous identities, A and B:
 * - the pixel info panel says who placed a pixel and when: "you" to its placer, a short id to others;
 * - an admin's new limits reach the page's budget at once;
 * - a frozen canvas shows a banner and places nothing (checked on the server), and draws again once
 *   unfrozen;
 * - a banned browser shows a banner as soon as the admin bans it, without trying to draw; a click
 *   sends nothing (checked on B's socket and on the server), a placement past the page's checks is
 *   refused by the server and rolled back, and once unbanned the banner goes and it draws again.
 * Every claim about the server is checked on the server (GET /api/pixel), not only on screen.
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../../loadtest/stack.ts";
import { Op } from "../../worker/protocol.ts";
import {
  clickPixel,
  inspectPixel,
  launch,
  openCanvas,
  pendingOf,
  pixelAt,
  waitConnected,
  waitPixel,
  waitSettled,
} from "../support/browser.ts";

const OUT = "test-results";
const VARS = { CANVAS_WIDTH: "64", CANVAS_HEIGHT: "48" };
const ADMIN_AUTH = { Authorization: "Bearer local-admin-token" };
/** The colour of an untouched pixel on a new canvas. */
const BLANK = 0;

interface PixelRecord {
  colour: number;
  history: { identity: string; at: number; seq: number; colour: number }[];
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).textContent()) ?? "";
}

/**
 * Opens the page like openCanvas, counting the Place frames it sends on any of its sockets: what the
 * server does with a frame cannot show whether the page sent it (a banned one is refused either way).
 */
async function openCountingPlaces(browser: Browser, url: string): Promise<{ page: Page; placesSent: () => number }> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  let places = 0;
  page.on("websocket", (socket) => {
    socket.on("framesent", ({ payload }) => {
      if (typeof payload !== "string" && payload[0] === Op.Place) places++;
    });
  });
  await page.goto(url);
  await waitConnected(page);
  return { page, placesSent: () => places };
}

/** The page's identity as the server sees it: its own cookie, asked from inside the page. */
function identityOf(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const body: unknown = await (await fetch("/api/session")).json();
    return typeof body === "object" && body !== null && "identity" in body ? String(body.identity) : "";
  });
}

describe("moderation and the pixel log, seen from the page", () => {
  let stack: Stack;
  let browser: Browser;
  let a: Page;
  let b: Page;
  /** Place frames B's page has sent. */
  let placesSentByB: () => number;
  let idA: string;

  /** The server's record of (x, y): its colour and who drew there. */
  async function record(x: number, y: number): Promise<PixelRecord> {
    const response = await fetch(`${stack.url}/api/pixel?x=${x}&y=${y}`);
    expect(response.status).toBe(200);
    return (await response.json()) as PixelRecord;
  }

  async function admin(method: string, path: string, body?: unknown): Promise<void> {
    const response = await fetch(`${stack.url}/api/admin/${path}`, {
      method,
      headers: body === undefined ? ADMIN_AUTH : { ...ADMIN_AUTH, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.status, await response.clone().text()).toBe(200);
  }

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    [stack, browser] = await Promise.all([startStack({ vars: VARS }), launch()]);
    // openCanvas gives each page its own browser context: its own cookies, so its own identity.
    a = await openCanvas(browser, stack.url);
    ({ page: b, placesSent: placesSentByB } = await openCountingPlaces(browser, stack.url));
    idA = await identityOf(a);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("each page knows its own identity, the same the server gives its cookie", async () => {
    expect(idA).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await a.evaluate(() => window.__pixelPlayground?.identity())).toBe(idA);
    const idB = await identityOf(b);
    expect(idB).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(idB).not.toBe(idA);
  });

  it("pixel info says who placed a pixel and when: you to its placer, a short id to everyone else", async () => {
    const before = Date.now();
    await clickPixel(a, 10, 12, 5);
    await waitSettled(a);
    await waitPixel(b, 10, 12, 5);
    const [newest] = (await record(10, 12)).history;
    expect(newest).toMatchObject({ identity: idA, colour: 5 });

    await inspectPixel(a, 10, 12);
    await expect.poll(() => text(a, "#pixel-info [data-part=by]")).toBe("you");
    expect(await a.locator("#pixel-info [data-part=at-row]").isVisible()).toBe(true);
    const at = Date.parse((await a.locator("#pixel-info [data-part=at]").getAttribute("datetime")) ?? "");
    expect(at).toBe(newest?.at);
    expect(at).toBeGreaterThanOrEqual(before - 5_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 5_000);
    expect(await text(a, "#pixel-info [data-part=at]")).not.toBe("");
    await a.screenshot({ path: `${OUT}/moderation-info-you.png` });

    await inspectPixel(b, 10, 12);
    await expect.poll(() => text(b, "#pixel-info [data-part=by]")).toBe(idA.slice(0, 8));
    expect(await b.locator("#pixel-info [data-part=by]").getAttribute("title")).toBe(idA);
    expect(await b.locator("#pixel-info [data-part=at]").getAttribute("datetime")).toBe(
      new Date(newest?.at ?? 0).toISOString(),
    );

    // B paints over it while its panel is open: the panel follows, to "you", then to the server's
    // record of B's placement (the full identity in the tooltip comes only from the server).
    await clickPixel(b, 10, 12, 6);
    await waitSettled(b);
    await expect.poll(() => text(b, "#pixel-info")).toMatch(/colour 7/);
    await expect.poll(() => b.locator("#pixel-info [data-part=by]").getAttribute("title")).toBe(await identityOf(b));
    expect(await text(b, "#pixel-info [data-part=by]")).toBe("you");
    await a.keyboard.press("Escape");
    await b.keyboard.press("Escape");
  });

  it("[P17] an admin's new limits reach the page's budget at once", async () => {
    await admin("PATCH", "limits", { pixelBurst: 7, pixelsPerSecond: 3 });
    await a.waitForFunction(() => /\/7 pixels/.test(document.querySelector("#budget-text")?.textContent ?? ""));
    expect(await a.locator("#budget").getAttribute("title")).toMatch(/7 pixels at once.*3 per second/);
    await admin("DELETE", "limits");
    await a.waitForFunction(() => /\/30 pixels/.test(document.querySelector("#budget-text")?.textContent ?? ""));
  });

  it("[P17] a frozen canvas shows a banner and places nothing; unfrozen, drawing works again", async () => {
    await admin("POST", "freeze");
    for (const page of [a, b]) {
      await page.locator("#moderation").waitFor({ state: "visible" });
      expect(await page.evaluate(() => document.body.dataset.frozen)).toBe("true");
    }
    expect(await text(a, "#moderation")).toMatch(/^The canvas is frozen\. You can watch/);

    // A click is refused on the page, with the reason; nothing is shown, queued or sent.
    await clickPixel(a, 20, 20, 9);
    await expect.poll(() => text(a, "#message")).toMatch(/Not placed: the canvas is frozen/);
    expect(await pixelAt(a, 20, 20)).toBe(BLANK);
    expect(await pendingOf(a)).toBe(0);
    await a.screenshot({ path: `${OUT}/moderation-frozen.png` });

    // A page that sends anyway (past its own checks) is refused by the server and rolled back.
    await a.evaluate(() => window.__pixelPlayground?.placeUnchecked(21, 20, 9));
    await expect.poll(() => text(a, "#message")).toMatch(/The canvas is frozen: the pixel was taken back/);
    await waitSettled(a);
    expect(await pixelAt(a, 21, 20)).toBe(BLANK);
    for (const x of [20, 21]) expect(await record(x, 20)).toMatchObject({ colour: BLANK, history: [] });

    await admin("POST", "unfreeze");
    for (const page of [a, b]) await page.locator("#moderation").waitFor({ state: "hidden" });
    expect(await a.evaluate(() => document.body.dataset.frozen)).toBe("false");
    await clickPixel(a, 20, 20, 9);
    await waitPixel(b, 20, 20, 9);
    await waitSettled(a);
    expect((await record(20, 20)).history[0]).toMatchObject({ identity: idA, colour: 9 });
  });

  it("[P17] a banned browser shows it at once, sends nothing, and draws again once unbanned", async () => {
    const idB = await identityOf(b);
    await admin("PUT", `bans/${idB}`, { reason: "e2e test" });
    // B learns of the ban from the Limits frame the server sends its socket, before trying to draw.
    await b.locator("#moderation").waitFor({ state: "visible" });
    expect(await text(b, "#moderation")).toMatch(/^This browser may watch but not draw\./);
    expect(await b.evaluate(() => document.body.dataset.banned)).toBe("true");
    // The ban is B's alone.
    expect(await a.locator("#moderation").isHidden()).toBe(true);
    expect(await a.evaluate(() => document.body.dataset.banned)).toBe("false");
    await b.screenshot({ path: `${OUT}/moderation-banned.png` });

    // A click is refused on the page, with the reason: nothing shown, queued or sent.
    const sentBefore = placesSentByB();
    await clickPixel(b, 30, 30, 3);
    await expect.poll(() => text(b, "#message")).toMatch(/^Not placed: this browser may watch but not draw/);
    expect(await pixelAt(b, 30, 30)).toBe(BLANK);
    expect(await pendingOf(b)).toBe(0);
    expect(await record(30, 30)).toMatchObject({ colour: BLANK, history: [] });

    // A page that sends anyway (past its own checks) is refused by the server and rolled back. Its
    // frame is the only one B sent since the ban: the click's would have been counted before it.
    await b.evaluate(() => window.__pixelPlayground?.placeUnchecked(32, 30, 3));
    await expect.poll(() => text(b, "#message")).toMatch(/^You can watch but not draw: .*the pixel was taken back/);
    await waitSettled(b);
    expect(await pixelAt(b, 32, 30)).toBe(BLANK);
    expect(await record(32, 30)).toMatchObject({ colour: BLANK, history: [] });
    await expect.poll(placesSentByB).toBe(sentBefore + 1);

    // It still watches: A's pixels reach it.
    await clickPixel(a, 31, 30, 4);
    await waitPixel(b, 31, 30, 4);

    await admin("DELETE", `bans/${idB}`);
    await b.locator("#moderation").waitFor({ state: "hidden" });
    expect(await b.evaluate(() => document.body.dataset.banned)).toBe("false");
    await expect.poll(() => text(b, "#message")).toMatch(/may draw again/);
    await clickPixel(b, 30, 30, 3);
    await waitPixel(a, 30, 30, 3);
    await waitSettled(b);
    expect((await record(30, 30)).history[0]).toMatchObject({ identity: idB, colour: 3 });
    await expect.poll(placesSentByB).toBe(sentBefore + 2);
  });
});
