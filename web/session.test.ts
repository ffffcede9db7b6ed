/**
 * Tests of the session's rules for the page's own pixels (session.ts), against a fake socket and fake
 * clocks in Node: pixels placed while disconnected are queued, shown and sent on reconnect as the
 * pixel budget allows; a refused placement is rolled back with a message, a refused queued batch waits
 * its turn again; a placement whose socket closed unanswered is settled by the catch-up or sent again;
 * pixels that waited too long are dropped with a message; a machine that slept reconnects and resumes;
 * the canvas's live limits pace the page, and a frozen canvas or a ban (from the Limits frame, or from
 * the server's refusal) is told to the person and places nothing.
 */

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type ClientMessage,
  DEFAULT_PALETTE,
  decodeClientMessage,
  ErrorCode,
  encodeError,
  encodeLimits,
  encodePixels,
  encodeServerHello,
  encodeSnapshot,
  Op,
  type Pixel,
} from "../worker/protocol.ts";
import { QUEUE_CAPACITY, QUEUE_MAX_AGE_MS } from "./outbox.ts";
import { type Moderation, Session, type SessionView, type Status } from "./session.ts";

const W = 16;
const H = 8;
const BOUNDS = { width: W, height: H, paletteSize: DEFAULT_PALETTE.length };

type Listener = (event: unknown) => void;

/** A WebSocket the test drives: it opens, delivers and closes when told to. */
class FakeSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 3;
  static all: FakeSocket[] = [];

  readyState = FakeSocket.CONNECTING;
  binaryType = "blob";
  readonly sent: ClientMessage[] = [];
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(bytes: Uint8Array): void {
    const decoded = decodeClientMessage(bytes, BOUNDS);
    if (!decoded.ok) throw new Error(`the page sent a bad frame: ${decoded.error.message}`);
    this.sent.push(decoded.value);
  }

  close(): void {
    this.readyState = FakeSocket.CLOSED;
  }

  // The server's side.

  accept(): void {
    this.readyState = FakeSocket.OPEN;
    this.emit("open", {});
  }

  deliver(bytes: Uint8Array): void {
    this.emit("message", { data: bytes.slice().buffer });
  }

  drop(code = 1006): void {
    this.readyState = FakeSocket.CLOSED;
    this.emit("close", { code, reason: "" });
  }

  places(): { nonce: number; pixels: Pixel[] }[] {
    return this.sent.flatMap((m) => (m.op === Op.Place ? [{ nonce: m.nonce, pixels: m.pixels }] : []));
  }

  private emit(type: string, event: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}

function hello(seq: number, burst = 2, pixelsPerSecond = 1): Uint8Array {
  return encodeServerHello({
    width: W,
    height: H,
    seq,
    online: 1,
    rateLimit: { pixelsPerSecond, burst },
    maxPlacePixels: 256,
    palette: [...DEFAULT_PALETTE],
    region: "test",
    isolateId: "isolate",
  });
}

/** What the view was told. */
interface Seen {
  status: Status;
  messages: string[];
  queued: number;
  moderation: Moderation;
}

let seen: Seen;
let snapshotSeq = 0;

function view(): SessionView {
  return {
    status: (status) => {
      seen.status = status;
    },
    canvas: () => {},
    hello: () => {},
    pixels: () => {},
    presence: () => {},
    message: (text) => {
      seen.messages.push(text);
    },
    outbox: (queued) => {
      seen.queued = queued.length;
    },
    moderation: (moderation) => {
      seen.moderation = moderation;
    },
  };
}

function socket(): FakeSocket {
  const last = FakeSocket.all.at(-1);
  if (!last) throw new Error("no socket opened");
  return last;
}

/** Lets the page's promises (the snapshot fetch) run, and its timers up to `ms` from now. */
async function wait(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

/** Starts a session and joins it to a server at `seq`. */
async function connected(seq = 0): Promise<Session> {
  snapshotSeq = seq;
  const session = new Session("ws://test/ws", "/api/canvas", view());
  session.start();
  await join(seq);
  return session;
}

/** Opens the latest socket (advancing past the reconnect backoff if needed) and greets it. */
async function join(seq: number, burst = 2): Promise<FakeSocket> {
  await wait(11_000);
  const ws = socket();
  ws.accept();
  ws.deliver(hello(seq, burst));
  await wait();
  expect(seen.status).toBe("connected");
  return ws;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance", "Date"] });
  FakeSocket.all = [];
  seen = { status: "connecting", messages: [], queued: 0, moderation: { frozen: false, banned: false } };
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("navigator", { onLine: true });
  vi.stubGlobal("addEventListener", () => {});
  vi.stubGlobal("document", { addEventListener: () => {}, visibilityState: "visible" });
  vi.stubGlobal("fetch", async () => {
    const body = encodeSnapshot({ width: W, height: H, seq: snapshotSeq, pixels: new Uint8Array(W * H) });
    return { ok: true, status: 200, arrayBuffer: async () => body.slice().buffer };
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("placing while connected", () => {
  it("[P11][P9] a placement the server refuses is rolled back at once, with a message", async () => {
    const session = await connected();
    const ws = socket();
    expect(session.place(1, 1, 5, { checkLocally: false })).toBe("sent");
    expect(session.pixelAt(1, 1)).toBe(5);
    expect(session.pending).toBe(1);
    const [place] = ws.places();
    ws.deliver(encodeError(ErrorCode.RateLimited, "slow down", place?.nonce, 800));
    expect(session.pixelAt(1, 1)).toBe(0);
    expect(session.pending).toBe(0);
    expect(seen.messages.at(-1)).toMatch(/Rate limited: the server refused the pixel and it was taken back/);
    // The page's budget now agrees with the server's: nothing until 800 ms from now.
    expect(session.budget(performance.now())?.msUntilNext).toBe(800);
  });

  it("[P11] the page's own budget holds back a click the server would refuse", async () => {
    const session = await connected();
    expect(session.place(1, 1, 5)).toBe("sent");
    expect(session.place(2, 1, 5)).toBe("sent");
    expect(session.place(3, 1, 5)).toBe("rate_limited");
    expect(seen.messages.at(-1)).toMatch(/Rate limited: next pixel in 1\.0 s/);
    expect(socket().places()).toHaveLength(2);
  });
});

describe("placing while disconnected", () => {
  it("queues pixels, shows them, and sends them on reconnect as fast as the budget allows", async () => {
    const session = await connected();
    socket().drop();
    expect(seen.status).toBe("reconnecting");
    for (const x of [1, 2, 3]) expect(session.place(x, 0, 7)).toBe("queued");
    expect(seen.messages.at(-1)).toMatch(/queued \(3 of 32\)/);
    expect(session.pending).toBe(3);
    expect(seen.queued).toBe(3);
    expect(session.pixelAt(3, 0)).toBe(7);

    const ws = await join(0);
    // The budget is 2: two pixels in one frame now…
    expect(ws.places().map((p) => p.pixels.map((px) => px.x))).toEqual([[1, 2]]);
    expect(session.pending).toBe(3);
    ws.deliver(
      encodePixels(1, [
        { x: 1, y: 0, colour: 7 },
        { x: 2, y: 0, colour: 7 },
      ]),
    );
    expect(session.pending).toBe(1);
    // …and the third once the budget has refilled (1 per second), with a little slack so that it does
    // not reach an edge whose bucket started a moment later than the page's.
    await wait(1_050);
    expect(ws.places()).toHaveLength(1);
    await wait(200);
    expect(ws.places().map((p) => p.pixels.map((px) => px.x))).toEqual([[1, 2], [3]]);
    expect(seen.queued).toBe(0);
  });

  it("a queued batch refused as rate limited goes back in the queue instead of being dropped", async () => {
    const session = await connected();
    socket().drop();
    session.place(4, 4, 2);
    const ws = await join(0);
    const [first] = ws.places();
    ws.deliver(encodeError(ErrorCode.RateLimited, "slow down", first?.nonce, 300));
    expect(session.pixelAt(4, 4)).toBe(2);
    expect(session.pending).toBe(1);
    expect(seen.queued).toBe(1);
    await wait(600);
    expect(ws.places()).toHaveLength(2);
    expect(ws.places()[1]?.pixels).toEqual([{ x: 4, y: 4, colour: 2 }]);
  });

  it("refuses a pixel beyond the queue's capacity, with a message", async () => {
    const session = await connected();
    socket().drop();
    for (let i = 0; i < QUEUE_CAPACITY; i++) expect(session.place(i % W, Math.floor(i / W), 1)).toBe("queued");
    expect(session.place(0, 7, 1)).toBe("queue_full");
    expect(seen.messages.at(-1)).toMatch(/Not placed: 32 pixels are already waiting/);
    expect(session.pixelAt(0, 7)).toBe(0);
    // A new colour for a place already queued is not a new pixel: it fits.
    expect(session.place(0, 0, 9)).toBe("queued");
    expect(session.pixelAt(0, 0)).toBe(9);
  });

  it("drops queued pixels that could not be sent within the maximum age, with a message", async () => {
    const session = await connected();
    socket().drop();
    // Keep the server away: every retry fails at once.
    const refuse = setInterval(() => {
      const ws = socket();
      if (ws.readyState === FakeSocket.CONNECTING) ws.drop();
    }, 100);
    session.place(5, 5, 3);
    await wait(QUEUE_MAX_AGE_MS - 1_000);
    expect(session.pending).toBe(1);
    await wait(2_000);
    clearInterval(refuse);
    expect(session.pending).toBe(0);
    expect(session.pixelAt(5, 5)).toBe(0);
    expect(seen.messages).toContain("1 unsent pixel was dropped: the connection was gone for more than 30 s.");
  });
});

describe("placements unanswered when the socket closed", () => {
  it("[P8] are settled by the catch-up when the server had applied them", async () => {
    const session = await connected(3);
    const old = socket();
    session.place(6, 6, 4);
    old.drop();
    const ws = await join(4);
    // The page resumes from 3; until the catch-up arrives it sends nothing new.
    expect(ws.sent[0]).toMatchObject({ op: Op.ClientHello, resumeSeq: 3 });
    expect(ws.places()).toEqual([]);
    ws.deliver(encodePixels(4, [{ x: 6, y: 6, colour: 4 }]));
    expect(session.pending).toBe(0);
    await wait(2_000);
    expect(ws.places()).toEqual([]);
    expect(session.pixelAt(6, 6)).toBe(4);
  });

  it("are sent again when the caught-up canvas shows they were lost with the socket", async () => {
    const session = await connected(3);
    session.place(6, 6, 4);
    socket().drop();
    // While disconnected they stay shown, as not confirmed.
    expect(session.pixelAt(6, 6)).toBe(4);
    expect(session.pending).toBe(1);
    const ws = await join(3);
    expect(ws.places().map((p) => p.pixels)).toEqual([[{ x: 6, y: 6, colour: 4 }]]);
    expect(session.pending).toBe(1);
  });
});

describe("waking up", () => {
  it("reconnects after the machine slept, resuming from the sequence it holds", async () => {
    await connected(5);
    const before = FakeSocket.all.length;
    // The wall clock jumps while the monotonic clock stood still: a suspend.
    vi.setSystemTime(Date.now() + 120_000);
    await wait(1_000);
    await wait(1_000);
    expect(FakeSocket.all.length).toBe(before + 1);
    socket().accept();
    expect(socket().sent[0]).toMatchObject({ op: Op.ClientHello, resumeSeq: 5 });
  });
});

describe("live limits and moderation", () => {
  it("[P17] the budget follows the canvas's Limits frame, without a refill, across reconnects", async () => {
    const session = await connected();
    expect(session.place(1, 1, 5)).toBe("sent");
    expect(session.place(2, 1, 5)).toBe("sent");
    socket().deliver(encodeLimits({ pixelsPerSecond: 5, burst: 10, frozen: false }));
    // Spent stays spent; the new rate refills it to the new burst.
    expect(session.budget(performance.now())).toEqual({
      available: 0,
      burst: 10,
      pixelsPerSecond: 5,
      msUntilNext: 200,
    });
    await wait(2_000);
    expect(session.budget(performance.now())?.available).toBe(10);
    expect(seen.moderation).toEqual({ frozen: false, banned: false });

    // A new hello carries the edge's default (burst 2); the live rate stands until the next Limits frame.
    socket().drop();
    await join(2);
    expect(session.budget(performance.now())).toMatchObject({ burst: 10, pixelsPerSecond: 5 });
    socket().deliver(encodeLimits({ pixelsPerSecond: 1, burst: 3, frozen: false }));
    expect(session.budget(performance.now())).toMatchObject({ available: 3, burst: 3, pixelsPerSecond: 1 });
  });

  it("[P17] while the canvas is frozen nothing is placed, the view says so, and unfrozen drawing is back", async () => {
    const session = await connected();
    const ws = socket();
    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: true }));
    expect(seen.moderation).toEqual({ frozen: true, banned: false });
    expect(session.frozen).toBe(true);
    expect(session.place(1, 1, 5)).toBe("frozen");
    expect(seen.messages.at(-1)).toMatch(/Not placed: the canvas is frozen/);
    expect(session.pixelAt(1, 1)).toBe(0);
    expect(session.pending).toBe(0);
    expect(ws.places()).toEqual([]);

    // A page that did not know (checkLocally: false) is refused by the server and rolled back.
    expect(session.place(2, 2, 5, { checkLocally: false })).toBe("sent");
    const [place] = ws.places();
    ws.deliver(encodeError(ErrorCode.Frozen, "frozen: the canvas is frozen", place?.nonce));
    expect(session.pixelAt(2, 2)).toBe(0);
    expect(session.pending).toBe(0);
    expect(seen.messages.at(-1)).toMatch(/^The canvas is frozen: the pixel was taken back\. You can watch/);

    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false }));
    expect(seen.moderation).toEqual({ frozen: false, banned: false });
    expect(seen.messages.at(-1)).toMatch(/no longer frozen/);
    expect(session.place(1, 1, 5)).toBe("sent");
    expect(session.pixelAt(1, 1)).toBe(5);
  });

  it("[P17] queued pixels still waiting when the canvas freezes are dropped, with a message", async () => {
    const session = await connected();
    socket().drop();
    for (const x of [1, 2, 3]) session.place(x, 0, 7);
    const ws = await join(0);
    // Two go at once (the budget); the third waits for the refill…
    expect(ws.places().map((p) => p.pixels.length)).toEqual([2]);
    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: true }));
    await wait(1_500);
    // …and is dropped when its turn comes: the server would refuse it.
    expect(ws.places()).toHaveLength(1);
    expect(seen.messages).toContain("1 unsent pixel was dropped: the canvas is frozen.");
    expect(session.pixelAt(3, 0)).toBe(0);
    expect(seen.queued).toBe(0);
  });

  it("[P17] a ban the Limits frame announces: the view says so, nothing is placed or sent, and unbanned drawing is back", async () => {
    const session = await connected();
    const ws = socket();
    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false, banned: true }));
    expect(seen.moderation).toEqual({ frozen: false, banned: true });
    expect(session.banned).toBe(true);
    expect(session.frozen).toBe(false);
    // No optimistic pixel that the server's refusal would take back a moment later.
    expect(session.place(1, 1, 5)).toBe("banned");
    expect(seen.messages.at(-1)).toBe("Not placed: this browser may watch but not draw (it is banned from drawing).");
    expect(session.pixelAt(1, 1)).toBe(0);
    expect(session.pending).toBe(0);
    expect(ws.places()).toEqual([]);
    // The page still watches.
    ws.deliver(encodePixels(1, [{ x: 5, y: 5, colour: 9 }]));
    expect(session.pixelAt(5, 5)).toBe(9);

    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false, banned: false }));
    expect(seen.moderation).toEqual({ frozen: false, banned: false });
    expect(seen.messages.at(-1)).toBe("This browser may draw again.");
    expect(session.place(1, 1, 5)).toBe("sent");
    expect(session.pixelAt(1, 1)).toBe(5);
  });

  it("[P17] a ban holds across a reconnect until the next Limits frame says otherwise", async () => {
    const session = await connected();
    socket().deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false, banned: true }));
    socket().drop();
    // Not connected: refused, not queued (it could never be sent).
    expect(session.place(1, 1, 5)).toBe("banned");
    expect(session.queued).toBe(0);
    const ws = await join(1);
    // Between the hello and its Limits frame the page still knows itself banned.
    expect(session.place(1, 1, 5)).toBe("banned");
    expect(ws.places()).toEqual([]);
    // The ban was lifted while the page was away: the frame after the hello says so.
    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false }));
    expect(session.banned).toBe(false);
    expect(seen.messages.at(-1)).toBe("This browser may draw again.");
    expect(session.place(1, 1, 5)).toBe("sent");
  });

  it("[P17] queued pixels still waiting when the browser is banned are dropped, with a message", async () => {
    const session = await connected();
    socket().drop();
    for (const x of [1, 2, 3]) session.place(x, 0, 7);
    const ws = await join(0);
    expect(ws.places().map((p) => p.pixels.length)).toEqual([2]);
    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false, banned: true }));
    await wait(1_500);
    expect(ws.places()).toHaveLength(1);
    expect(seen.messages).toContain("1 unsent pixel was dropped: this browser is banned from drawing.");
    expect(session.pixelAt(3, 0)).toBe(0);
    expect(seen.queued).toBe(0);
  });

  it("[P17] frozen and banned at once: the ban is named, and lifting one says the other still holds", async () => {
    const session = await connected();
    const ws = socket();
    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: true, banned: true }));
    expect(seen.moderation).toEqual({ frozen: true, banned: true });
    expect(session.place(1, 1, 5)).toBe("banned");
    expect(seen.messages.at(-1)).toBe("Not placed: the canvas is frozen, and this browser may watch but not draw.");

    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false, banned: true }));
    expect(seen.moderation).toEqual({ frozen: false, banned: true });
    expect(seen.messages.at(-1)).toBe("The canvas is no longer frozen, but this browser may still not draw.");
    expect(session.place(1, 1, 5)).toBe("banned");

    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: true, banned: false }));
    expect(seen.messages.at(-1)).toBe("This browser may draw again once the canvas is unfrozen.");
    expect(session.place(1, 1, 5)).toBe("frozen");

    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false, banned: false }));
    expect(seen.messages.at(-1)).toBe("The canvas is no longer frozen: you can draw again.");
    expect(ws.places()).toEqual([]);
    expect(session.place(1, 1, 5)).toBe("sent");
  });

  it("a ban the page did not know of is told plainly by the server's refusal: the pixel is taken back, and the page can still watch", async () => {
    const session = await connected();
    const ws = socket();
    expect(session.place(4, 4, 3)).toBe("sent");
    const [place] = ws.places();
    ws.deliver(encodeError(ErrorCode.Banned, "banned: this identity may not draw", place?.nonce));
    expect(session.pixelAt(4, 4)).toBe(0);
    expect(session.pending).toBe(0);
    expect(seen.messages.at(-1)).toBe(
      "You can watch but not draw: this browser is banned from drawing; the pixel was taken back.",
    );
    ws.deliver(encodePixels(1, [{ x: 5, y: 5, colour: 9 }]));
    expect(session.pixelAt(5, 5)).toBe(9);
    expect(seen.status).toBe("connected");
  });
});
