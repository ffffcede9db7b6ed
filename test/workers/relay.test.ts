/**
 * The edge relay and the canvas hub through real WebSocket upgrades: delivery between sockets, the
 * documented errors for bad input (docs/protocol.md rule ids in the test names), rate limits, and the
 * canvas serving everyone else throughout.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CANVAS_NAME } from "../../worker/canvas/canvas-object.ts";
import {
  closeCodeFor,
  ErrorCode,
  encodeCatchUp,
  encodeClientHello,
  encodePlace,
  MAX_PLACE_PIXELS,
  Op,
  type PixelsFrame,
  PROTOCOL_VERSION,
} from "../../worker/protocol.ts";
import { connectClosedAfterEach } from "./client.ts";

const connect = connectClosedAfterEach();

const isPixels = (m: { op: number }): m is PixelsFrame => m.op === Op.Pixels;
const isError = (m: { op: number }) => m.op === Op.Error;

function stub() {
  return env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));
}

describe("hello", () => {
  it("[P1] the server greets with the canvas shape, palette, sequence, limits, isolate and region", async () => {
    const a = await connect();
    expect(a.hello.version).toBe(PROTOCOL_VERSION);
    expect(a.hello.width).toBe(256);
    expect(a.hello.height).toBe(128);
    expect(a.hello.palette).toHaveLength(32);
    expect(a.hello.rateLimit).toEqual({ pixelsPerSecond: 50, burst: 100 });
    expect(a.hello.maxPlacePixels).toBe(MAX_PLACE_PIXELS);
    expect(a.hello.region).toBe("test");
    expect(a.hello.isolateId).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.hello.seq).toBe((await stub().stats()).seq);
  });

  it("[P2] a client hello of another version is closed with 4006 version_mismatch", async () => {
    const a = await connect({ hello: false });
    a.send(encodeClientHello(0, PROTOCOL_VERSION + 1));
    const error = await a.next(isError);
    expect(error).toMatchObject({ code: ErrorCode.VersionMismatch });
    expect(await a.closed).toEqual({ code: closeCodeFor(ErrorCode.VersionMismatch), reason: "version_mismatch" });
  });

  it("[P3] placing before the hello is refused with hello_required, and the socket stays open", async () => {
    const a = await connect({ hello: false });
    a.send(encodePlace(7, [{ x: 1, y: 1, colour: 1 }]));
    expect(await a.next(isError)).toMatchObject({ code: ErrorCode.HelloRequired, nonce: 7 });
    a.send(encodeClientHello());
    a.send(encodePlace(8, [{ x: 1, y: 1, colour: 2 }]));
    const frame = await a.next(isPixels);
    expect(frame.pixels).toEqual([{ x: 1, y: 1, colour: 2 }]);
  });
});

describe("relay", () => {
  it("a pixel placed by one socket reaches every socket, once, in a numbered frame", async () => {
    const a = await connect();
    const b = await connect();
    const c = await connect();
    const before = (await stub().stats()).seq;
    a.send(encodePlace(1, [{ x: 10, y: 20, colour: 5 }]));
    for (const client of [a, b, c]) {
      const frame = await client.next(isPixels);
      expect(frame.seq).toBe(before + 1);
      expect(frame.pixels).toEqual([{ x: 10, y: 20, colour: 5 }]);
    }
    const snapshot = await stub().snapshot();
    expect(snapshot.seq).toBe(before + 1);
    // header (16 bytes) then row-major indices
    expect(snapshot.bytes[16 + 20 * 256 + 10]).toBe(5);
  });

  it("pixels placed in quick succession are coalesced into fewer frames than placements", async () => {
    const a = await connect();
    const b = await connect();
    const before = (await stub().stats()).seq;
    for (let i = 0; i < 40; i++) a.send(encodePlace(100 + i, [{ x: i, y: 30, colour: 3 }]));
    const seen: { x: number }[] = [];
    let last = before;
    while (seen.length < 40) {
      const frame = await b.next(isPixels);
      expect(frame.seq).toBe(last + 1); // no gaps, no repeats
      last = frame.seq;
      seen.push(...frame.pixels);
    }
    // Every placement exactly once. Not necessarily in the order sent: workerd was seen delivering a
    // channel's hibernatable messages out of order (docs/protocol.md, "Ordering").
    expect(seen.map((p) => p.x).sort((p, q) => p - q)).toEqual([...Array(40).keys()]);
    expect(last - before).toBeLessThan(40);
  });
});

describe("bad input gets the documented error and the canvas keeps serving", () => {
  const cases: [string, Uint8Array | string, number][] = [
    ["[P4] an empty frame", new Uint8Array(0), ErrorCode.BadFrame],
    ["[P4] a frame longer than the largest Place", new Uint8Array(5000).fill(2), ErrorCode.TooLarge],
    ["[P4] text instead of binary", "hello", ErrorCode.BadFrame],
    ["[P4] an unknown opcode", new Uint8Array([0x7f, 0, 0]), ErrorCode.BadFrame],
    ["[P5] a truncated Place header", new Uint8Array([0x02, 0, 0, 0, 9]), ErrorCode.BadFrame],
    [
      "[P5] a Place whose count disagrees with its length",
      encodePlace(9, [{ x: 1, y: 1, colour: 1 }]).slice(0, 10),
      ErrorCode.BadFrame,
    ],
    ["[P5] a Place with no pixels", encodePlace(9, []), ErrorCode.BadFrame],
    ["[P7] a pixel outside the canvas", encodePlace(9, [{ x: 256, y: 0, colour: 1 }]), ErrorCode.OutOfBounds],
    ["[P7] a colour outside the palette", encodePlace(9, [{ x: 0, y: 0, colour: 32 }]), ErrorCode.BadColour],
    ["[P8] a truncated catch-up", encodeCatchUp(1).slice(0, 3), ErrorCode.BadFrame],
  ];
  it.each(cases)("%s", async (_name, frame, code) => {
    const bad = await connect();
    const good = await connect();
    bad.send(frame);
    const error = await bad.next(isError);
    expect(error).toMatchObject({ code });
    // The sender is still connected, and everyone else still gets pixels.
    bad.send(encodePlace(11, [{ x: 2, y: 2, colour: 4 }]));
    expect((await good.next(isPixels)).pixels).toEqual([{ x: 2, y: 2, colour: 4 }]);
    expect((await bad.next(isPixels)).pixels).toEqual([{ x: 2, y: 2, colour: 4 }]);
  });

  it("[P6] a rejected pixel never reaches anyone", async () => {
    const bad = await connect();
    const watcher = await connect();
    bad.send(
      encodePlace(21, [
        { x: 5, y: 5, colour: 1 },
        { x: 999, y: 5, colour: 1 },
      ]),
    );
    expect(await bad.next(isError)).toMatchObject({ code: ErrorCode.OutOfBounds, nonce: 21 });
    bad.send(encodePlace(22, [{ x: 6, y: 6, colour: 2 }]));
    // The first frame the watcher sees is the valid one: the half-bad batch was dropped whole.
    expect((await watcher.next(isPixels)).pixels).toEqual([{ x: 6, y: 6, colour: 2 }]);
  });
});

describe("rate limits", () => {
  it("[P11] pixels beyond the burst are rejected with rate_limited, the nonce and a retry time", async () => {
    const a = await connect();
    const watcher = await connect();
    const row = (y: number, n: number) => Array.from({ length: n }, (_, x) => ({ x, y, colour: 7 }));
    a.send(encodePlace(31, row(40, 60)));
    a.send(encodePlace(32, row(41, 60))); // 120 > burst 100
    const error = await a.next(isError);
    expect(error).toMatchObject({ code: ErrorCode.RateLimited, nonce: 32 });
    if (error.op !== Op.Error) throw new Error("unreachable");
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(error.retryAfterMs).toBeLessThanOrEqual(Math.ceil((20 * 1000) / 50));
    const frame = await watcher.next(isPixels);
    expect(frame.pixels.every((p) => p.y === 40)).toBe(true);
  });

  it("[P11] a batch larger than the whole burst is too_large, not a wait", async () => {
    const a = await connect();
    a.send(
      encodePlace(
        41,
        Array.from({ length: 101 }, (_, x) => ({ x, y: 50, colour: 1 })),
      ),
    );
    expect(await a.next(isError)).toMatchObject({ code: ErrorCode.TooLarge, nonce: 41 });
  });

  it("[P12] a flood of frames closes the socket with 4008 flooded; others are unaffected", async () => {
    const flooder = await connect();
    const good = await connect();
    for (let i = 0; i < 600; i++) flooder.send(encodeCatchUp(0xffffffff));
    expect(await flooder.closed).toEqual({ code: closeCodeFor(ErrorCode.Flooded), reason: "flooded" });
    good.send(encodePlace(51, [{ x: 3, y: 3, colour: 3 }]));
    expect((await good.next(isPixels)).pixels).toEqual([{ x: 3, y: 3, colour: 3 }]);
  });
});

describe("catch-up", () => {
  it("[P8] a client that missed frames gets exactly those frames back", async () => {
    const a = await connect();
    const b = await connect();
    const from = a.hello.seq;
    for (let i = 0; i < 5; i++) {
      a.send(encodePlace(60 + i, [{ x: i, y: 60, colour: 9 }]));
      await a.next(isPixels);
      await new Promise((r) => setTimeout(r, 25)); // one frame each
    }
    const current = (await stub().stats()).seq;
    b.send(encodeCatchUp(from));
    const replayed: PixelsFrame[] = [];
    // b already got the live frames; the replay comes after them.
    while (replayed.length < current - from) {
      const f = await b.next(isPixels);
      if (b.pixelFrames().length > current - from) replayed.push(f);
    }
    expect(replayed.map((f) => f.seq)).toEqual(Array.from({ length: current - from }, (_, i) => from + 1 + i));
  });

  it("[P8] a resuming hello replays what was missed while away", async () => {
    const a = await connect();
    const resumeFrom = a.hello.seq;
    a.send(encodePlace(70, [{ x: 70, y: 70, colour: 10 }]));
    const missed = await a.next(isPixels);
    const b = await connect({ resumeSeq: resumeFrom });
    // b joined after the frame; its hello seq already covers it, and the resume replays it anyway.
    const replay = await b.next(isPixels);
    expect(replay).toEqual(missed);
  });

  it("[P8] catching up from the current sequence sends nothing", async () => {
    const a = await connect();
    a.send(encodeCatchUp(a.hello.seq));
    a.send(encodePlace(80, [{ x: 80, y: 80, colour: 11 }]));
    const first = await a.next((m) => m.op !== Op.Presence && m.op !== Op.Limits && m.op !== Op.LiveHello);
    expect(first.op).toBe(Op.Pixels);
    expect(first).toMatchObject({ seq: a.hello.seq + 1 });
  });
});
