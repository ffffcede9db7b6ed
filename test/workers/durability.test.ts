/**
 * Durability: the canvas survives restarts of its Durable Object with every pixel anyone was shown,
 * and the storage layout (frame log + tiles) reloads to exactly the canvas that was written.
 */
import { abortAllDurableObjects, env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CANVAS_NAME } from "../../worker/canvas/canvas-object.ts";
import { CanvasState } from "../../worker/canvas/canvas-state.ts";
import { CanvasStore, COMPACT_AFTER_FRAMES, RETAIN_FRAMES } from "../../worker/canvas/store.ts";
import {
  closeCodeFor,
  DEFAULT_PALETTE,
  ErrorCode,
  encodePixels,
  encodePlace,
  Op,
  type Pixel,
  type PixelsFrame,
} from "../../worker/protocol.ts";
import { prng } from "../support/random.ts";
import { firstDifference, TestClient } from "./client.ts";

const isPixels = (m: { op: number }): m is PixelsFrame => m.op === Op.Pixels;

describe("restart", () => {
  it("every pixel a client was shown is still there after the object restarts", async () => {
    const stub = env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));
    const a = await TestClient.connect();
    const b = await TestClient.connect();
    const shown: Pixel[] = [];
    for (let i = 0; i < 20; i++) {
      const pixel = { x: (i * 37) % 256, y: (i * 11) % 128, colour: (i % 31) + 1 };
      a.send(encodePlace(i + 1, [pixel]));
    }
    while (shown.length < 20) shown.push(...(await b.next(isPixels)).pixels);
    const seqBefore = (await stub.stats()).seq;

    await abortAllDurableObjects();
    // The edge tells its clients the canvas went away, with the documented close code.
    expect((await b.closed).code).toBe(closeCodeFor(ErrorCode.Unavailable));

    // Stubs die with the instance they reached; a new stub reaches the restarted object.
    const restarted = env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));
    const { seq, bytes } = await restarted.snapshot();
    expect(seq).toBe(seqBefore);
    for (const p of shown) expect(bytes[16 + p.y * 256 + p.x]).toBe(p.colour);
    // A new client joins at the same sequence and drawing carries on from there.
    const c = await TestClient.connect();
    expect(c.hello.seq).toBe(seqBefore);
    c.send(encodePlace(99, [{ x: 1, y: 2, colour: 3 }]));
    expect((await c.next(isPixels)).seq).toBe(seqBefore + 1);
    c.close();
  });
});

describe("store", () => {
  it("log + compaction + reload reproduces the canvas exactly, at the same sequence", async () => {
    // A separate object, so this test owns its storage; the store is exercised directly.
    const stub = env.CANVAS.get(env.CANVAS.idFromName("store-test"));
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("DELETE FROM meta");
      state.storage.sql.exec("DELETE FROM tiles");
      state.storage.sql.exec("DELETE FROM frames");
      const shape = { width: 1000, height: 1000, palette: [...DEFAULT_PALETTE] };
      const store = new CanvasStore(state.storage.sql);
      const loaded = store.load(shape);
      expect(loaded.seq).toBe(0);
      const reference = new CanvasState(1000, 1000);
      const random = prng(7);
      let seq = 0;
      let compactions = 0;
      for (let f = 0; f < COMPACT_AFTER_FRAMES * 2 + 37; f++) {
        const pixels: Pixel[] = Array.from({ length: 1 + Math.floor(random() * 40) }, () => ({
          x: Math.floor(random() * 1000),
          y: Math.floor(random() * 1000),
          colour: Math.floor(random() * 32),
        }));
        seq += 1;
        store.appendFrame(seq, encodePixels(seq, pixels));
        loaded.canvas.apply(pixels);
        reference.apply(pixels);
        if (store.needsCompaction) {
          state.storage.transactionSync(() => store.compact(loaded.canvas, seq));
          compactions += 1;
        }
      }
      expect(compactions).toBe(2);
      const reloaded = new CanvasStore(state.storage.sql).load(shape);
      expect(reloaded.seq).toBe(seq);
      // The ring is seeded with the log after the tiles plus RETAIN_FRAMES already in them…
      const firstKept = 2 * COMPACT_AFTER_FRAMES - RETAIN_FRAMES + 1;
      expect(reloaded.frames.map((f) => f.seq)).toEqual(
        Array.from({ length: seq - firstKept + 1 }, (_, i) => firstKept + i),
      );
      expect(firstDifference(reloaded.canvas.pixels, reference.pixels)).toBeUndefined();
      expect(reloaded.shapeMismatch).toBe(false);
    });
  });

  it("a stored canvas keeps its shape when the configuration changes", async () => {
    const stub = env.CANVAS.get(env.CANVAS.idFromName("shape-test"));
    await runInDurableObject(stub, (_instance, state) => {
      // The object created its configured canvas when it started; start from nothing instead.
      state.storage.sql.exec("DELETE FROM meta");
      const store = new CanvasStore(state.storage.sql);
      const first = store.load({ width: 40, height: 30, palette: [0, 0xffffff] });
      expect(first.shape.width).toBe(40);
      const again = new CanvasStore(state.storage.sql).load({ width: 80, height: 30, palette: [0, 0xffffff] });
      expect(again.shape).toEqual({ width: 40, height: 30, palette: [0, 0xffffff] });
      expect(again.shapeMismatch).toBe(true);
    });
  });
});

describe("hibernation discipline", () => {
  it("a channel whose attachment does not check out is closed, and its client told to reconnect", async () => {
    const client = await TestClient.connect();
    const stub = env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));
    // As a wake after a deploy might find it: an attachment of another shape, and (as after any
    // wake) nothing of it cached in memory.
    await runInDurableObject(stub, (instance, state) => {
      for (const ws of state.getWebSockets()) {
        ws.serializeAttachment({ v: 0, who: "someone else" });
        // biome-ignore lint/complexity/useLiteralKeys: a private field, reached from a test
        instance["channels"].delete(ws);
      }
    });
    client.send(encodePlace(1, [{ x: 0, y: 0, colour: 1 }]));
    expect((await client.closed).code).toBe(closeCodeFor(ErrorCode.Unavailable));
    // A new connection gets a well-formed channel and works.
    const again = await TestClient.connect();
    again.send(encodePlace(2, [{ x: 0, y: 0, colour: 2 }]));
    expect((await again.next(isPixels)).pixels).toEqual([{ x: 0, y: 0, colour: 2 }]);
    again.close();
  });
});

describe("storage failures", () => {
  it("a placement the canvas cannot store is refused with storage_failed, reaches nobody, and the next one works", async () => {
    const stub = env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));
    const a = await TestClient.connect();
    const watcher = await TestClient.connect();
    const seqBefore = (await stub.stats()).seq;
    // The next frame write fails, as a full disk or a storage outage would make it.
    await runInDurableObject(stub, (instance) => {
      // biome-ignore lint/complexity/useLiteralKeys: a private field, reached from a test
      const store = instance["store"];
      const original = store.appendFrame.bind(store);
      store.appendFrame = () => {
        store.appendFrame = original;
        throw new Error("injected: disk full");
      };
    });
    a.send(encodePlace(501, [{ x: 44, y: 44, colour: 7 }]));
    const error = await a.next((m) => m.op === Op.Error);
    expect(error).toMatchObject({ code: ErrorCode.StorageFailed, nonce: 501 });
    // Nothing was broadcast or applied, and no sequence number was used.
    expect((await stub.stats()).seq).toBe(seqBefore);
    expect((await stub.snapshot()).bytes[16 + 44 * 256 + 44]).not.toBe(7);
    a.send(encodePlace(502, [{ x: 45, y: 44, colour: 8 }]));
    const frame = await watcher.next(isPixels);
    expect(frame).toMatchObject({ seq: seqBefore + 1, pixels: [{ x: 45, y: 44, colour: 8 }] });
    a.close();
    watcher.close();
  });
});
