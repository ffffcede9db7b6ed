/**
 * The edge's fan-in [P18] through real upgrades: every test client here is served by one isolate, so
 * their placements reach the canvas in few PlaceBatch messages, each metered against its own
 * socket's identity and network, and answered on its own socket.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { CANVAS_NAME } from "../../worker/canvas/canvas-object.ts";
import {
  ErrorCode,
  type ErrorFrame,
  encodePlace,
  encodePlaceBatch,
  Op,
  type PixelsFrame,
} from "../../worker/protocol.ts";
import { api, canvasChannel, pixelRow, sleep, TestClient, until } from "./client.ts";

const stub = () => env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));
const isError = (m: { op: number }): m is ErrorFrame => m.op === Op.Error;

/** Every pixel on row `y` a client has been sent so far. */
function seenOnRow(c: TestClient, y: number): number {
  let n = 0;
  for (const m of c.messages) if (m.op === Op.Pixels) for (const p of (m as PixelsFrame).pixels) if (p.y === y) n++;
  return n;
}

const open: TestClient[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  expect((await api("DELETE", "/api/admin/limits")).status).toBe(200);
});

describe("[P18] fan-in: an isolate's placements in few messages to the canvas", () => {
  it("placements of many sockets arrive in fewer messages than placements, and everyone sees every pixel", async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => TestClient.connect()));
    open.push(...clients);
    const before = await stub().stats();
    // 10 sockets × 5 placements, sent back to back: far more than one per 5 ms window.
    for (let round = 0; round < 5; round++) {
      clients.forEach((c, i) => {
        c.send(encodePlace(round * 100 + i + 1, [{ x: round * 10 + i, y: 40, colour: 2 }]));
      });
    }
    for (const c of clients) await until(() => seenOnRow(c, 40) >= 50);
    const after = await stub().stats();
    expect(after.placementsReceived - before.placementsReceived).toBe(50);
    const messages = after.placementMessages - before.placementMessages;
    expect(messages).toBeGreaterThan(0);
    expect(messages).toBeLessThan(50);
    for (const c of clients) {
      expect(seenOnRow(c, 40)).toBe(50);
      expect(c.messages.filter(isError)).toEqual([]);
    }
  });

  it("a refusal inside a batch reaches only the socket that placed it, with its nonce", async () => {
    // Network limits are the canvas's alone (the edge pre-checks identities only), so the edge lets
    // these through and the canvas refuses inside the batch.
    expect(
      (await api("PATCH", "/api/admin/limits", { body: { networkPixelsPerSecond: 1, networkPixelBurst: 5 } })).status,
    ).toBe(200);
    const first = await TestClient.connect({ ip: "192.0.2.200" });
    const sameNet = await TestClient.connect({ ip: "192.0.2.200" });
    const otherNet = await TestClient.connect({ ip: "192.0.2.201" });
    open.push(first, sameNet, otherNet);
    first.send(encodePlace(501, pixelRow(5, 41)));
    sameNet.send(encodePlace(502, pixelRow(3, 42)));
    otherNet.send(encodePlace(503, pixelRow(3, 43)));
    const refused = await sameNet.next(isError);
    expect(refused).toMatchObject({ code: ErrorCode.RateLimited, nonce: 502 });
    for (const c of [first, sameNet, otherNet]) await until(() => seenOnRow(c, 41) === 5 && seenOnRow(c, 43) === 3);
    await sleep(50);
    for (const c of [first, sameNet, otherNet]) expect(seenOnRow(c, 42)).toBe(0);
    expect(first.messages.filter(isError)).toEqual([]);
    expect(otherNet.messages.filter(isError)).toEqual([]);
  });

  it("a socket that closes right after placing still gets its pixel placed", async () => {
    const watcher = await TestClient.connect();
    const leaver = await TestClient.connect();
    const other = await TestClient.connect();
    open.push(watcher, other);
    // The first placement opens the window; the next two wait in it, carried by the leaver.
    other.send(encodePlace(601, pixelRow(1, 44)));
    await until(() => seenOnRow(watcher, 44) === 1);
    leaver.send(encodePlace(602, [{ x: 10, y: 44, colour: 3 }]));
    other.send(encodePlace(603, [{ x: 11, y: 44, colour: 3 }]));
    leaver.close();
    await until(() => seenOnRow(watcher, 44) === 3);
  });
});

describe("[P18] PlaceBatch at the canvas", () => {
  /** A channel straight to the canvas, as an edge session opens one. */
  const channel = (isolate: string, session: number) =>
    canvasChannel({ isolate, session, identity: `id-${isolate}-${session}`, network: `n-${session}` });

  it("places what names a channel of the sending isolate, and drops what names another isolate's or none", async () => {
    const watcher = await TestClient.connect();
    open.push(watcher);
    const carrier = await channel("iso-a", 1);
    await channel("iso-a", 2);
    await channel("iso-b", 3);
    const before = await stub().stats();
    carrier.send(
      encodePlaceBatch([
        { session: 2, nonce: 1, pixels: [{ x: 0, y: 45, colour: 4 }] },
        { session: 3, nonce: 2, pixels: [{ x: 1, y: 45, colour: 4 }] }, // iso-b's session: not iso-a's to name
        { session: 99, nonce: 3, pixels: [{ x: 2, y: 45, colour: 4 }] }, // no such channel
        { session: 1, nonce: 4, pixels: [{ x: 3, y: 45, colour: 4 }] },
      ]),
    );
    await until(() => seenOnRow(watcher, 45) === 2);
    await sleep(50);
    expect(seenOnRow(watcher, 45)).toBe(2);
    const after = await stub().stats();
    expect(after.placementMessages - before.placementMessages).toBe(1);
    expect(after.placementsReceived - before.placementsReceived).toBe(2);
  });

  it("a malformed batch is refused with an error on its channel, and the canvas keeps serving", async () => {
    const carrier = await channel("iso-c", 1);
    const errors: number[] = [];
    carrier.addEventListener("message", (event) => {
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      if (bytes[0] === Op.Error) errors.push(bytes[1] ?? 0);
    });
    carrier.send(Uint8Array.of(Op.PlaceBatch, 0, 1, 0, 0));
    await until(() => errors.length === 1);
    expect(errors).toEqual([ErrorCode.BadFrame]);
    const watcher = await TestClient.connect();
    open.push(watcher);
    watcher.send(encodePlace(700, pixelRow(1, 46)));
    await until(() => seenOnRow(watcher, 46) === 1);
  });
});
