/**
 * Abuse controls and moderation, end to end through the real Worker and Durable Object: signed
 * identities, limits that follow an identity and a network across sockets (enforced by the canvas, not
 * only the edge), socket caps, live limits, freeze, bans, the pixel log, rollback, wipe, and the admin
 * API's authentication and audit log (docs/admin.md).
 *
 * Bindings (vitest.config.ts): 50 pixels/s with a burst of 100 per identity, a 256×128 canvas,
 * network limits off until a test turns them on, ADMIN_TOKEN "test-admin-token".
 */
import { abortAllDurableObjects, env, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CANVAS_NAME } from "../../worker/canvas/canvas-object.ts";
import type { ModerationStore } from "../../worker/canvas/moderation-store.ts";
import { app, PIXEL_LOOKUP_BURST, STATUS_LOOKUP_BURST } from "../../worker/edge/app.ts";
import type { Limits } from "../../worker/limits.ts";
import {
  decodeServerMessage,
  ErrorCode,
  type ErrorFrame,
  encodePlace,
  type Limits as LimitsFrame,
  Op,
  type PixelsFrame,
} from "../../worker/protocol.ts";
import { ADMIN_TOKEN, api, BASE, canvasChannel, pixelRow, sleep, TestClient, until } from "./client.ts";

const isPixels = (m: { op: number }): m is PixelsFrame => m.op === Op.Pixels;
const isError = (m: { op: number }): m is ErrorFrame => m.op === Op.Error;
const isLimits = (m: { op: number }): m is LimitsFrame => m.op === Op.Limits;
const stub = () => env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));

/** A fresh signed identity: its id and the Cookie header that presents it. */
async function newIdentity(): Promise<{ id: string; cookie: string }> {
  const res = await SELF.fetch(`${BASE}/api/session`);
  const setCookie = res.headers.get("Set-Cookie") ?? "";
  const body = (await res.json()) as { identity: string };
  return { id: body.identity, cookie: setCookie.split(";")[0] ?? "" };
}

/** A Pixels frame whose first pixel is on row `y` (every client sees every frame: pick the one meant). */
const onRow =
  (y: number) =>
  (m: { op: number }): m is PixelsFrame =>
    isPixels(m) && m.pixels[0]?.y === y;

let nextSession = 1;

/** A channel straight to the canvas, as an edge isolate opens one: what the canvas decides on its own. */
async function rawChannel(isolate: string, identity: string, network = "192.0.2.1") {
  const ws = await canvasChannel({ isolate, identity, network, session: nextSession++ });
  const errors: ErrorFrame[] = [];
  ws.addEventListener("message", (event) => {
    if (typeof event.data === "string") return;
    const m = decodeServerMessage(event.data);
    if (m.ok && m.value.op === Op.Error) errors.push(m.value);
  });
  return { ws, errors };
}

afterEach(async () => {
  // Limits are stored by the canvas and storage lives for the whole file: put them back.
  expect((await api("DELETE", "/api/admin/limits")).status).toBe(200);
});

describe("identity", () => {
  it("the socket upgrade sets a signed, HttpOnly identity cookie when the client has none", async () => {
    const a = await TestClient.connect();
    expect(a.setCookie).toMatch(
      /^pp_id=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Path=\/; Max-Age=31536000; HttpOnly; SameSite=Lax; Secure$/,
    );
    const presented = a.setCookie?.split(";")[0];
    const b = await TestClient.connect({ cookie: presented });
    expect(b.setCookie).toBeUndefined();
    a.close();
    b.close();
  });

  it("/api/session keeps a valid identity and replaces a forged one", async () => {
    const { id, cookie } = await newIdentity();
    const again = await SELF.fetch(`${BASE}/api/session`, { headers: { Cookie: cookie } });
    expect(again.headers.get("Set-Cookie")).toBeNull();
    expect(await again.json()).toEqual({ identity: id });
    // Someone else's id with a signature of one's own choosing is not that identity.
    const forged = await SELF.fetch(`${BASE}/api/session`, {
      headers: { Cookie: `pp_id=${id}.${"A".repeat(43)}` },
    });
    const body = (await forged.json()) as { identity: string };
    expect(body.identity).not.toBe(id);
    expect(forged.headers.get("Set-Cookie")).toContain(`pp_id=${body.identity}.`);
  });
});

describe("limits follow a person, not a socket", () => {
  it("two sockets of one identity share its pixel budget; another identity has its own", async () => {
    const me = await newIdentity();
    const a = await TestClient.connect({ cookie: me.cookie });
    const b = await TestClient.connect({ cookie: me.cookie });
    const other = await TestClient.connect();
    a.send(encodePlace(1, pixelRow(100, 1)));
    expect((await a.next(isPixels)).pixels).toHaveLength(100);
    b.send(encodePlace(2, pixelRow(50, 2)));
    const refused = await b.next(isError);
    expect(refused).toMatchObject({ code: ErrorCode.RateLimited, nonce: 2 });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    other.send(encodePlace(3, pixelRow(50, 3)));
    expect((await other.next(onRow(3))).pixels).toHaveLength(50);
    for (const c of [a, b, other]) c.close();
  });

  it("the canvas enforces an identity's budget across edge isolates, whatever each edge let through", async () => {
    const me = await newIdentity();
    const one = await rawChannel("isolate-one", me.id);
    const two = await rawChannel("isolate-two", me.id);
    one.ws.send(encodePlace(11, pixelRow(100, 4)));
    two.ws.send(encodePlace(12, pixelRow(50, 5)));
    await until(async () => two.errors.length > 0);
    expect(two.errors[0]).toMatchObject({ code: ErrorCode.RateLimited, nonce: 12 });
    expect(one.errors).toEqual([]);
    one.ws.close();
    two.ws.close();
  });

  it("a network shares one budget across identities when the network limit is on (IPv6 by /64)", async () => {
    expect(
      (await api("PATCH", "/api/admin/limits", { body: { networkPixelsPerSecond: 20, networkPixelBurst: 60 } })).status,
    ).toBe(200);
    const first = await TestClient.connect({ ip: "2001:db8:1:2::1" });
    const sameNet = await TestClient.connect({ ip: "2001:db8:1:2:ffff::9" });
    const otherNet = await TestClient.connect({ ip: "2001:db8:1:3::1" });
    first.send(encodePlace(21, pixelRow(60, 6)));
    expect((await first.next(isPixels)).pixels).toHaveLength(60);
    sameNet.send(encodePlace(22, pixelRow(10, 7)));
    const refused = await sameNet.next(isError);
    expect(refused).toMatchObject({ code: ErrorCode.RateLimited, nonce: 22 });
    expect(refused.message).toContain("per network");
    otherNet.send(encodePlace(23, pixelRow(10, 8)));
    expect((await otherNet.next(onRow(8))).pixels).toHaveLength(10);
    for (const c of [first, sameNet, otherNet]) c.close();
  });

  it("caps open sockets per identity and per network, and frees a slot when one closes", async () => {
    expect((await api("PATCH", "/api/admin/limits", { body: { socketsPerIdentity: 2 } })).status).toBe(200);
    const me = await newIdentity();
    const a = await TestClient.connect({ cookie: me.cookie });
    const b = await TestClient.connect({ cookie: me.cookie });
    const third = await SELF.fetch(`${BASE}/ws`, { headers: { Upgrade: "websocket", Cookie: me.cookie } });
    expect(third.status).toBe(429);
    expect(await third.json()).toMatchObject({ error: "too_many_sockets" });
    a.close();
    await until(async () => {
      const res = await SELF.fetch(`${BASE}/ws`, { headers: { Upgrade: "websocket", Cookie: me.cookie } });
      res.webSocket?.accept();
      res.webSocket?.close();
      return res.status === 101;
    });
    b.close();

    expect(
      (await api("PATCH", "/api/admin/limits", { body: { socketsPerIdentity: 0, socketsPerNetwork: 1 } })).status,
    ).toBe(200);
    const n1 = await TestClient.connect({ ip: "198.51.100.7" });
    const n2 = await SELF.fetch(`${BASE}/ws`, {
      headers: { Upgrade: "websocket", "CF-Connecting-IP": "198.51.100.7" },
    });
    expect(n2.status).toBe(429);
    const elsewhere = await TestClient.connect({ ip: "198.51.100.8" });
    n1.close();
    elsewhere.close();
  });
});

describe("live limits and freeze", () => {
  it("a change reaches connected clients at once and the edge enforces it", async () => {
    const c = await TestClient.connect();
    expect(await c.next(isLimits)).toMatchObject({ pixelsPerSecond: 50, burst: 100, frozen: false });
    const changed = await api("PATCH", "/api/admin/limits", { body: { pixelsPerSecond: 5, pixelBurst: 7 } });
    expect(changed.body).toMatchObject({ limits: { pixelsPerSecond: 5, pixelBurst: 7 } });
    expect(await c.next(isLimits)).toMatchObject({ pixelsPerSecond: 5, burst: 7, frozen: false });
    c.send(encodePlace(31, pixelRow(8, 9)));
    expect(await c.next(isError)).toMatchObject({ code: ErrorCode.TooLarge, nonce: 31 });
    c.send(encodePlace(32, pixelRow(7, 9)));
    expect((await c.next(isPixels)).pixels).toHaveLength(7);
    c.close();
  });

  it("freeze refuses every placement with `frozen`, tells newcomers, and unfreeze lets drawing go on", async () => {
    const drawer = await TestClient.connect();
    const watcher = await TestClient.connect();
    expect((await api("POST", "/api/admin/freeze")).status).toBe(200);
    expect(await drawer.next((m) => isLimits(m) && m.frozen)).toMatchObject({ frozen: true });
    drawer.send(encodePlace(41, [{ x: 40, y: 40, colour: 4 }]));
    expect(await drawer.next(isError)).toMatchObject({ code: ErrorCode.Frozen, nonce: 41 });
    const late = await TestClient.connect();
    expect(await late.next(isLimits)).toMatchObject({ frozen: true });
    expect((await api("POST", "/api/admin/unfreeze")).status).toBe(200);
    drawer.send(encodePlace(42, [{ x: 40, y: 40, colour: 5 }]));
    const seen = await watcher.next(isPixels);
    expect(seen.pixels).toEqual([{ x: 40, y: 40, colour: 5 }]);
    // The frozen placement never reached anyone.
    expect(watcher.pixelFrames()).toHaveLength(1);
    for (const c of [drawer, watcher, late]) c.close();
  });
});

describe("bans", () => {
  it("a banned identity may watch but not draw; unban restores it; others are untouched", async () => {
    const bad = await newIdentity();
    const banned = await api("PUT", `/api/admin/bans/${bad.id}`, { body: { reason: "spam" } });
    expect(banned).toMatchObject({ status: 200, body: { identity: bad.id, banned: true } });
    const c = await TestClient.connect({ cookie: bad.cookie });
    const other = await TestClient.connect();
    c.send(encodePlace(51, [{ x: 50, y: 50, colour: 3 }]));
    expect(await c.next(isError)).toMatchObject({ code: ErrorCode.Banned, nonce: 51 });
    other.send(encodePlace(52, [{ x: 51, y: 50, colour: 3 }]));
    expect((await c.next(isPixels)).pixels).toEqual([{ x: 51, y: 50, colour: 3 }]); // still watching
    expect((await api("GET", "/api/admin/bans")).body).toEqual([
      expect.objectContaining({ identity: bad.id, reason: "spam" }),
    ]);
    expect((await api("DELETE", `/api/admin/bans/${bad.id}`)).status).toBe(200);
    expect((await api("DELETE", `/api/admin/bans/${bad.id}`)).status).toBe(404);
    expect((await api("PUT", "/api/admin/bans/not-an-id")).status).toBe(400);
    c.send(encodePlace(53, [{ x: 50, y: 50, colour: 3 }]));
    expect((await other.next((m): m is PixelsFrame => isPixels(m) && m.pixels[0]?.x === 50)).pixels).toHaveLength(1);
    c.close();
    other.close();
  });

  it("[P17] a ban and an unban reach that identity's open sockets at once, and only them", async () => {
    const bad = await newIdentity();
    const c = await TestClient.connect({ cookie: bad.cookie });
    const bystander = await TestClient.connect();
    expect(await c.next(isLimits)).toMatchObject({ banned: false });
    expect(await bystander.next(isLimits)).toMatchObject({ banned: false });
    await api("PUT", `/api/admin/bans/${bad.id}`, { body: {} });
    expect(await c.next(isLimits)).toMatchObject({ banned: true, frozen: false });
    // Refused at the edge now, before reaching the canvas.
    c.send(encodePlace(54, [{ x: 52, y: 50, colour: 3 }]));
    const refused = await c.next(isError);
    expect(refused).toMatchObject({ code: ErrorCode.Banned, nonce: 54 });
    expect(refused.message).toBe("banned: this identity may not draw");
    await api("DELETE", `/api/admin/bans/${bad.id}`);
    expect(await c.next(isLimits)).toMatchObject({ banned: false });
    c.send(encodePlace(55, [{ x: 52, y: 50, colour: 4 }]));
    expect((await bystander.next(isPixels)).pixels).toEqual([{ x: 52, y: 50, colour: 4 }]);
    // The bystander was told nothing about either.
    expect(bystander.messages.filter(isLimits)).toHaveLength(1);
    c.close();
    bystander.close();
  });
});

describe("pixel log", () => {
  it("GET /api/pixel says who drew a pixel and when, newest first", async () => {
    const first = await newIdentity();
    const second = await newIdentity();
    const a = await TestClient.connect({ cookie: first.cookie });
    const b = await TestClient.connect({ cookie: second.cookie });
    const before = Date.now();
    a.send(encodePlace(61, [{ x: 10, y: 20, colour: 5 }]));
    const firstSeq = (await b.next(isPixels)).seq;
    b.send(encodePlace(62, [{ x: 10, y: 20, colour: 6 }]));
    const secondSeq = (await a.next((m): m is PixelsFrame => isPixels(m) && m.pixels[0]?.colour === 6)).seq;
    const info = await api("GET", "/api/pixel?x=10&y=20", { token: null });
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({
      x: 10,
      y: 20,
      colour: 6,
      history: [
        { identity: second.id, colour: 6, seq: secondSeq },
        { identity: first.id, colour: 5, seq: firstSeq },
      ],
    });
    const at = (info.body as { history: { at: number }[] }).history[1]?.at ?? 0;
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
    expect((await api("GET", "/api/pixel?x=3&y=127", { token: null })).body).toMatchObject({ history: [] });
    a.close();
    b.close();
  });

  it("refuses bad coordinates clearly", async () => {
    expect((await api("GET", "/api/pixel?x=abc&y=1", { token: null })).status).toBe(400);
    expect((await api("GET", "/api/pixel?x=1", { token: null })).status).toBe(400);
    expect((await api("GET", "/api/pixel?x=5000&y=1", { token: null })).status).toBe(400);
    const off = await api("GET", "/api/pixel?x=300&y=1", { token: null });
    expect(off).toMatchObject({ status: 404, body: { error: "out_of_bounds" } });
  });

  it("limits lookups per network, so a scan of the canvas cannot become the canvas's workload", async () => {
    const lookup = (ip: string) => SELF.fetch(`${BASE}/api/pixel?x=1&y=1`, { headers: { "CF-Connecting-IP": ip } });
    // The clock stands still, so nothing refills while the burst is spent: at 10 lookups/s, a
    // request of ~20 ms on a busy machine would otherwise earn the next one back.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now());
    try {
      for (let i = 0; i < PIXEL_LOOKUP_BURST; i++) expect((await lookup("203.0.113.50")).status).toBe(200);
      const refused = await lookup("203.0.113.50");
      expect(refused.status).toBe(429);
      expect(refused.headers.get("Retry-After")).toMatch(/^\d+$/);
      expect(await refused.json()).toMatchObject({ error: "rate_limited" });
      expect((await lookup("203.0.113.51")).status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });

  it("meters /api/stats and /api/health per network too, generously", async () => {
    const status = (path: string, ip: string) => SELF.fetch(`${BASE}${path}`, { headers: { "CF-Connecting-IP": ip } });
    // The clock stands still, so nothing refills while the burst is spent (requests here take ~20 ms).
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now());
    try {
      for (let i = 0; i < STATUS_LOOKUP_BURST; i++) {
        expect((await status(i % 2 ? "/api/stats" : "/api/health", "203.0.113.60")).status).toBe(200);
      }
      const refused = await status("/api/stats", "203.0.113.60");
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ error: "rate_limited" });
      expect((await status("/api/health", "203.0.113.61")).status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });

  it("keeps the log within its row bound, dropping the oldest rows", async () => {
    const c = await TestClient.connect();
    c.send(encodePlace(71, pixelRow(40, 100, 2)));
    await c.next(isPixels);
    await runInDurableObject(stub(), (instance) => {
      const moderation = Reflect.get(instance, "moderation") as ModerationStore;
      const rows = moderation.logRows();
      expect(rows).toBeGreaterThanOrEqual(40);
      expect(moderation.prune(Date.now(), { maxAgeMs: 3_600_000, maxRows: 10 })).toBe(rows - 10);
      expect(moderation.logRows()).toBe(10);
      // The newest rows stay: the last pixel of that placement is still known.
      expect(moderation.pixelHistory(39, 100, 1)).toHaveLength(1);
      expect(moderation.pixelHistory(0, 100, 1)).toHaveLength(0);
      // Identities left with no pixel in the log are forgotten with their rows.
      const sql = (Reflect.get(instance, "ctx") as DurableObjectState).storage.sql;
      const orphans = sql
        .exec(
          `SELECT COUNT(*) AS n FROM identities WHERE token <> 'admin'
           AND NOT EXISTS (SELECT 1 FROM pixel_log WHERE who = identities.n)`,
        )
        .one().n;
      expect(orphans).toBe(0);
      expect(moderation.pixelHistory(39, 100, 1)[0]?.identity).toMatch(/^[A-Za-z0-9_-]{22}$/);
    });
    c.close();
  });

  it("an identity that only watches is never written to storage", async () => {
    const watcher = await newIdentity();
    const c = await TestClient.connect({ cookie: watcher.cookie });
    const other = await TestClient.connect();
    other.send(encodePlace(72, [{ x: 1, y: 101, colour: 3 }]));
    await c.next(isPixels);
    await runInDurableObject(stub(), (instance) => {
      const sql = (Reflect.get(instance, "ctx") as DurableObjectState).storage.sql;
      expect(sql.exec(`SELECT COUNT(*) AS n FROM identities WHERE token = ?`, watcher.id).one().n).toBe(0);
    });
    c.close();
    other.close();
  });
});

describe("rollback and wipe", () => {
  it("rolls back an identity's pixels since a time to what was under them, leaving what others drew over", async () => {
    const vandal = await newIdentity();
    const v = await TestClient.connect({ cookie: vandal.cookie });
    const b = await TestClient.connect();
    const watcher = await TestClient.connect();
    v.send(encodePlace(81, [{ x: 33, y: 30, colour: 4 }])); // before `since`: stays
    await watcher.next(isPixels);
    b.send(encodePlace(82, [{ x: 31, y: 30, colour: 9 }])); // someone else's, then drawn over
    await watcher.next(isPixels);
    await sleep(20);
    const since = Date.now();
    await sleep(5);
    v.send(
      encodePlace(83, [
        { x: 30, y: 30, colour: 1 },
        { x: 31, y: 30, colour: 2 },
        { x: 32, y: 30, colour: 3 },
      ]),
    );
    await watcher.next(isPixels);
    b.send(encodePlace(84, [{ x: 32, y: 30, colour: 7 }])); // drawn over the vandal's: stays
    await watcher.next(isPixels);

    const result = await api("POST", "/api/admin/rollback", {
      body: { identity: vandal.id, since: new Date(since).toISOString() },
    });
    expect(result).toMatchObject({ status: 200, body: { identity: vandal.id, pixels: 2 } });
    const restored = await watcher.next(isPixels);
    expect(restored.pixels).toEqual([
      { x: 30, y: 30, colour: 0 },
      { x: 31, y: 30, colour: 9 },
    ]);
    const colourAt = async (x: number) =>
      (await api("GET", `/api/pixel?x=${x}&y=30`, { token: null })).body as {
        colour: number;
        history: { identity: string }[];
      };
    expect((await colourAt(30)).colour).toBe(0);
    expect((await colourAt(31)).colour).toBe(9);
    expect((await colourAt(31)).history[0]?.identity).toBe("admin");
    expect((await colourAt(32)).colour).toBe(7);
    expect((await colourAt(33)).colour).toBe(4);
    // Nothing to roll back is not an error.
    expect(
      (await api("POST", "/api/admin/rollback", { body: { identity: "A".repeat(22), since: 0 } })).body,
    ).toMatchObject({ pixels: 0 });
    for (const c of [v, b, watcher]) c.close();
  });

  it("wipes a rectangle (clipped to the canvas) for everyone, and refuses one off the canvas or in a colour not in the palette", async () => {
    const watcher = await TestClient.connect();
    const wiped = await api("POST", "/api/admin/wipe", { body: { x: 100, y: 100, width: 4, height: 3, colour: 2 } });
    expect(wiped).toMatchObject({ status: 200, body: { pixels: 12 } });
    const frame = await watcher.next(isPixels);
    expect(frame.pixels).toHaveLength(12);
    expect(frame.pixels.every((p) => p.colour === 2 && p.x >= 100 && p.x < 104 && p.y >= 100 && p.y < 103)).toBe(true);
    const clipped = await api("POST", "/api/admin/wipe", { body: { x: 250, y: 120, width: 20, height: 20 } });
    expect(clipped.body).toMatchObject({ pixels: 6 * 8, rect: { x: 250, y: 120, width: 6, height: 8 } });
    expect((await api("POST", "/api/admin/wipe", { body: { x: 300, y: 0, width: 1, height: 1 } })).status).toBe(400);
    expect(
      (await api("POST", "/api/admin/wipe", { body: { x: 0, y: 0, width: 1, height: 1, colour: 200 } })).body,
    ).toMatchObject({
      error: "bad_colour",
    });
    watcher.close();
  });

  it("a whole-canvas wipe goes out in frames of at most 8,192 pixels, in order", async () => {
    const watcher = await TestClient.connect();
    const wiped = await api("POST", "/api/admin/wipe", { body: { x: 0, y: 0, width: 256, height: 128, colour: 0 } });
    expect(wiped.body).toMatchObject({ pixels: 256 * 128 });
    let total = 0;
    let seq = watcher.hello.seq;
    while (total < 256 * 128) {
      const f = await watcher.next(isPixels);
      expect(f.seq).toBe(seq + 1);
      expect(f.pixels.length).toBeLessThanOrEqual(8192);
      seq = f.seq;
      total += f.pixels.length;
    }
    expect(total).toBe(256 * 128);
    watcher.close();
  });
});

describe("admin API", () => {
  it("refuses without the bearer token, with a wrong one, and when no token is configured", async () => {
    const none = await api("GET", "/api/admin", { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get("WWW-Authenticate")).toContain("Bearer");
    expect((await api("GET", "/api/admin", { token: "test-admin-tokeN" })).status).toBe(401);
    expect((await api("GET", "/api/admin", { token: "x" })).status).toBe(401);
    expect((await api("POST", "/api/admin/freeze", { token: "" })).status).toBe(401);
    const disabled = await app.request(
      `${BASE}/api/admin`,
      { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } },
      {
        ...env,
        ADMIN_TOKEN: "",
      },
    );
    expect(disabled.status).toBe(403);
    expect(await disabled.json()).toMatchObject({ error: "admin_disabled" });
  });

  it("refuses bad bodies with a reason", async () => {
    const unknown = await api("PATCH", "/api/admin/limits", { body: { bogus: 1 } });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain("bogus");
    expect((await api("PATCH", "/api/admin/limits", { body: { pixelsPerSecond: 0 } })).status).toBe(400);
    expect((await api("PATCH", "/api/admin/limits", { body: {} })).status).toBe(400);
    const text = await SELF.fetch(`${BASE}/api/admin/limits`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "text/plain" },
      body: "pixelsPerSecond=5",
    });
    expect(text.status).toBe(415);
    const broken = await SELF.fetch(`${BASE}/api/admin/wipe`, {
      method: "POST",
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: "{not json",
    });
    expect(broken.status).toBe(400);
    expect(
      (await api("POST", "/api/admin/rollback", { body: { identity: "A".repeat(22), since: Date.now() + 60_000 } }))
        .status,
    ).toBe(400);
  });

  it("logs every action, newest first, with its actor and never the token", async () => {
    await api("POST", "/api/admin/freeze");
    await api("POST", "/api/admin/unfreeze");
    await api("PATCH", "/api/admin/limits", { body: { pixelBurst: 90 } });
    const log = await api("GET", "/api/admin/audit?limit=3");
    expect(log.status).toBe(200);
    const entries = log.body as { action: string; actor: string; at: number }[];
    expect(entries.map((e) => e.action)).toEqual(["limits", "unfreeze", "freeze"]);
    expect(entries.every((e) => e.actor === "admin@unknown/test")).toBe(true);
    expect(JSON.stringify(log.body)).not.toContain(ADMIN_TOKEN);
  });
});

describe("after a restart", () => {
  it("limits, freeze and bans are still in force", async () => {
    const banned = await newIdentity();
    await api("PUT", `/api/admin/bans/${banned.id}`, { body: {} });
    await api("PATCH", "/api/admin/limits", { body: { pixelsPerSecond: 9, frozen: true } });
    await abortAllDurableObjects();
    const state = (await api("GET", "/api/admin")).body as { limits: Limits; bans: { identity: string }[] };
    expect(state.limits).toMatchObject({ pixelsPerSecond: 9, frozen: true });
    expect(state.bans.map((b) => b.identity)).toContain(banned.id);
    const c = await TestClient.connect();
    expect(await c.next(isLimits)).toMatchObject({ pixelsPerSecond: 9, frozen: true });
    c.close();
    await api("DELETE", `/api/admin/bans/${banned.id}`);
  });
});
