/**
 * The edge's HTTP surface and the join-without-gaps guarantee [P14]: a snapshot at sequence S plus
 * the frames after S is exactly the server's canvas, even when the snapshot comes from the cache.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CANVAS_NAME } from "../../worker/canvas/canvas-object.ts";
import { decodeSnapshot, encodeCatchUp, encodePlace, gunzip, Op, type PixelsFrame } from "../../worker/protocol.ts";
import { firstDifference, sleep, TestClient } from "./client.ts";

const isPixels = (m: { op: number }): m is PixelsFrame => m.op === Op.Pixels;

describe("HTTP", () => {
  it("GET /api/health reports this edge and the canvas behind it", async () => {
    const res = await SELF.fetch("https://pixels.test/api/health");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ status: "ok", region: "test", canvas: { seq: expect.any(Number) } });
  });

  it("unknown routes are a JSON 404", async () => {
    const res = await SELF.fetch(`https://pixels.test/api/nope?x=${"a".repeat(4000)}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
  });

  it("GET /ws without an upgrade is 426, other methods 405", async () => {
    const plain = await SELF.fetch("https://pixels.test/ws");
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: "upgrade_required" });
    const post = await SELF.fetch("https://pixels.test/ws", { method: "POST", body: "x" });
    expect(post.status).toBe(405);
  });

  it("a cross-origin upgrade is refused with 403; same-origin and origin-less clients are let in", async () => {
    const res = await SELF.fetch("https://pixels.test/ws", {
      headers: { Upgrade: "websocket", Origin: "https://evil.example" },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: "origin_not_allowed" });
    const same = await TestClient.connect({ origin: "https://pixels.test" });
    same.close();
    const none = await TestClient.connect();
    none.close();
  });

  it("[P10] GET /api/canvas is a gzip snapshot with its sequence, cacheable for a second", async () => {
    const res = await SELF.fetch("https://pixels.test/api/canvas");
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("public, max-age=1");
    const snapshot = decodeSnapshot(await gunzip(new Uint8Array(await res.arrayBuffer())), 32);
    if (!snapshot.ok) throw new Error(snapshot.error.message);
    expect(snapshot.value.width).toBe(256);
    expect(snapshot.value.height).toBe(128);
    expect(res.headers.get("X-Canvas-Seq")).toBe(String(snapshot.value.seq));
  });
});

describe("[P14] joining without gaps", () => {
  it("snapshot at S + frames after S equals the server's canvas while others keep drawing", async () => {
    const stub = env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));
    const writer = await TestClient.connect();
    let drawing = true;
    let nonce = 1;
    const draw = (async () => {
      while (drawing) {
        const x = nonce % 256;
        writer.send(encodePlace(nonce, [{ x, y: (nonce * 7) % 128, colour: nonce % 32 }]));
        nonce += 1;
        await sleep(3);
      }
    })();
    await sleep(50);
    // The join, as the page does it: live stream first, then the snapshot, then frames after it.
    const joiner = await TestClient.connect();
    await sleep(30);
    const res = await SELF.fetch("https://pixels.test/api/canvas");
    const decoded = decodeSnapshot(await gunzip(new Uint8Array(await res.arrayBuffer())), 32);
    if (!decoded.ok) throw new Error(decoded.error.message);
    const canvas = decoded.value.pixels.slice();
    let seq = decoded.value.seq;
    // A cached snapshot may predate the hello: ask for whatever lies between.
    if (seq < joiner.hello.seq) joiner.send(encodeCatchUp(seq));
    await sleep(100);
    drawing = false;
    await draw;
    await sleep(100); // let the last placements flush
    const final = (await stub.stats()).seq;
    const held = new Map<number, PixelsFrame>();
    while (seq < final) {
      const frame = await joiner.next(isPixels);
      if (frame.seq > seq) held.set(frame.seq, frame);
      for (let next = held.get(seq + 1); next; next = held.get(seq + 1)) {
        for (const p of next.pixels) canvas[p.y * 256 + p.x] = p.colour;
        held.delete(seq + 1);
        seq += 1;
      }
    }
    const server = await stub.snapshot();
    expect(seq).toBe(server.seq);
    expect(firstDifference(canvas, server.bytes.subarray(16))).toBeUndefined();
    expect(nonce).toBeGreaterThan(20); // the writer really was drawing during the join
    writer.close();
    joiner.close();
  });
});

describe("GET /api/stats", () => {
  it("reports presence per isolate, the canvas counters, and who served it", async () => {
    const a = await TestClient.connect();
    const b = await TestClient.connect();
    a.send(encodePlace(1, [{ x: 9, y: 9, colour: 9 }]));
    await b.next(isPixels);
    await sleep(600); // past the presence coalescing
    const res = await SELF.fetch("https://pixels.test/api/stats");
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const body = (await res.json()) as {
      presence: { total: number; regions: unknown[]; observedChannels: number; isolates: Record<string, unknown>[] };
      canvas: {
        seq: number;
        pixelsPlaced: number;
        framesBroadcast: number;
        placementMessages: number;
        placementsReceived: number;
      };
      servedBy: { region: string; isolateId: string };
    };
    expect(body.presence.total).toBe(2);
    expect(body.presence.regions).toEqual([{ region: "test", count: 2 }]);
    expect(body.presence.observedChannels).toBe(2);
    expect(body.presence.isolates).toEqual([
      {
        isolateId: body.servedBy.isolateId,
        region: "test",
        reported: 2,
        observed: 2,
        reportSeq: expect.any(Number),
        reportAgeMs: expect.any(Number),
      },
    ]);
    expect(body.canvas.pixelsPlaced).toBeGreaterThanOrEqual(1);
    expect(body.canvas.framesBroadcast).toBeGreaterThanOrEqual(1);
    expect(body.canvas.placementsReceived).toBeGreaterThanOrEqual(1);
    expect(body.canvas.placementMessages).toBeGreaterThanOrEqual(1);
    expect(body.canvas.placementMessages).toBeLessThanOrEqual(body.canvas.placementsReceived);
    expect(body.canvas.seq).toBe(a.hello.seq + 1);
    a.close();
    b.close();
  });
});
