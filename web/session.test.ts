/**
 * Tests of the session (session.ts), against fake sockets and fake clocks in Node: joining with two
 * sockets [P19] (the live socket opened after the hello, from the right sequence; connected once its
 * hello arrived; its replay as the resume, and catch-up on the edge socket only for the gap it leaves;
 * frames on both sockets applied once; a drop of either socket is the drop of both; a live hello of
 * another version stops the page); and the rules for the page's own pixels: pixels placed while
 * disconnected are queued, shown and sent on reconnect as the pixel budget allows; a refused placement
 * is rolled back with a message, a refused queued batch waits its turn again; a placement whose
 * connection closed unanswered is settled by the live socket's replay or sent again; pixels that
 * waited too long are dropped with a message; a machine that slept reconnects and resumes; the
 * canvas's live limits pace the page, and a frozen canvas or a ban (from the Limits frame, or from the
 * server's refusal) is told to the person and places nothing.
 */

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type ClientMessage,
  DEFAULT_PALETTE,
  decodeClientMessage,
  ErrorCode,
  encodeError,
  encodeLimits,
  encodeLiveHello,
  encodePixels,
  encodePresence,
  encodeResync,
  encodeServerHello,
  encodeSnapshot,
  Op,
  type Pixel,
  PROTOCOL_VERSION,
} from "../worker/protocol.ts";
import { FakeSocket } from "./fake-socket.ts";
import { QUEUE_CAPACITY, QUEUE_MAX_AGE_MS } from "./outbox.ts";
import { type Moderation, Session, type SessionView, type Status } from "./session.ts";

const W = 16;
const H = 8;
const BOUNDS = { width: W, height: H, paletteSize: DEFAULT_PALETTE.length };

/** The frames the page sent on a socket, decoded (a frame that does not decode fails the test). */
function sent(ws: FakeSocket): ClientMessage[] {
  return ws.sent.map((bytes) => {
    const decoded = decodeClientMessage(bytes, BOUNDS);
    if (!decoded.ok) throw new Error(`the page sent a bad frame: ${decoded.error.message}`);
    return decoded.value;
  });
}

function places(ws: FakeSocket): { nonce: number; pixels: Pixel[] }[] {
  return sent(ws).flatMap((m) => (m.op === Op.Place ? [{ nonce: m.nonce, pixels: m.pixels }] : []));
}

function catchUps(ws: FakeSocket): number[] {
  return sent(ws).flatMap((m) => (m.op === Op.CatchUp ? [m.fromSeq] : []));
}

/** The newest edge socket (`/ws`) and live socket (`/ws/live`). */
function edge(): FakeSocket {
  return FakeSocket.last("/ws");
}

function live(): FakeSocket {
  return FakeSocket.last("/ws/live");
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
let snapshotsFetched = 0;

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

/**
 * Opens the latest edge socket (advancing past the reconnect backoff if needed) and greets it with a
 * hello at `seq`; then opens the live socket the page asked for and greets it at `liveSeq`. Returns
 * the edge socket; `live()` is its live socket.
 */
async function join(seq: number, burst = 2, liveSeq = seq): Promise<FakeSocket> {
  await wait(11_000);
  const ws = edge();
  const lives = FakeSocket.count("/ws/live");
  ws.accept();
  ws.deliver(hello(seq, burst));
  expect(FakeSocket.count("/ws/live")).toBe(lives + 1);
  live().accept();
  live().deliver(encodeLiveHello(liveSeq));
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
  snapshotsFetched = 0;
  vi.stubGlobal("fetch", async () => {
    snapshotsFetched++;
    const body = encodeSnapshot({ width: W, height: H, seq: snapshotSeq, pixels: new Uint8Array(W * H) });
    return { ok: true, status: 200, arrayBuffer: async () => body.slice().buffer };
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

/** Frame `seq`: one pixel at (0, 0) in a colour of its own, so frames overwrite each other and their order shows. */
function frame(seq: number): Uint8Array {
  return encodePixels(seq, [{ x: 0, y: 0, colour: seq % DEFAULT_PALETTE.length }]);
}

describe("joining: two sockets [P19]", () => {
  it("[P19][P14] opens the live socket after the hello, from its sequence, and is connected once the live hello and the snapshot are in", async () => {
    snapshotSeq = 7;
    const session = new Session("ws://test/ws", "/api/canvas", view());
    session.start();
    expect(FakeSocket.all.map((s) => s.url)).toEqual(["ws://test/ws"]);
    const ws = edge();
    ws.accept();
    // The hello resumes nothing: the live socket's `from` does [P19].
    expect(sent(ws)).toEqual([{ op: Op.ClientHello, version: PROTOCOL_VERSION, resumeSeq: 0 }]);
    ws.deliver(hello(7));
    ws.deliver(encodePresence(1, []));
    expect(live().url).toBe("ws://test/ws/live?from=7");
    live().accept();
    expect(seen.status).toBe("connecting");
    // The live socket: its hello, the replay after 7 (a frame broadcast between the two joins), presence.
    live().deliver(encodeLiveHello(8));
    live().deliver(frame(8));
    live().deliver(encodePresence(2, []));
    await wait();
    expect(seen.status).toBe("connected");
    expect(session.seq).toBe(8);
    expect(session.pixelAt(0, 0)).toBe(8);
    await wait(5_000);
    // Nothing was missing, so nothing was asked for; nothing is ever sent on the live socket.
    expect(catchUps(ws)).toEqual([]);
    expect(live().sent).toEqual([]);
    expect(snapshotsFetched).toBe(1);
  });

  it("[P19] reconnecting resumes through the live socket, from the page's sequence, with no catch-up and no snapshot", async () => {
    const session = await connected(3);
    live().deliver(frame(4));
    edge().drop();
    await wait(11_000);
    const ws = edge();
    ws.accept();
    expect(sent(ws)).toEqual([{ op: Op.ClientHello, version: PROTOCOL_VERSION, resumeSeq: 0 }]);
    ws.deliver(hello(6));
    expect(live().from).toBe("4");
    // Ticks before the live socket's hello ask for nothing: its replay is coming.
    await wait(1_500);
    live().accept();
    live().deliver(encodeLiveHello(6));
    await wait();
    expect(seen.status).toBe("connected");
    // The replay is the catch-up in flight: ticks while it arrives do not ask the edge for it again.
    await wait(1_000);
    live().deliver(frame(5));
    await wait(1_000);
    live().deliver(frame(6));
    await wait(5_000);
    expect(session.seq).toBe(6);
    expect(session.pixelAt(0, 0)).toBe(6);
    expect(catchUps(ws)).toEqual([]);
    expect(snapshotsFetched).toBe(1);
  });

  it("[P8][P19] catches up on the edge socket what a stale snapshot leaves out; frames on both sockets apply once, in order", async () => {
    // The edge cache serves a snapshot at 2 though the canvas was at 5 when the page joined.
    snapshotSeq = 2;
    const session = new Session("ws://test/ws", "/api/canvas", view());
    session.start();
    const ws = edge();
    ws.accept();
    ws.deliver(hello(5));
    live().accept();
    live().deliver(encodeLiveHello(6));
    live().deliver(frame(6));
    await wait();
    // The live socket brings everything after 5; frames 3…5 are asked of the edge socket.
    expect(catchUps(ws)).toEqual([2]);
    expect(session.seq).toBe(2);
    // The reply (3…6, as held) and the broadcast (7) interleave; 6 comes on both sockets.
    ws.deliver(frame(3));
    live().deliver(frame(7));
    ws.deliver(frame(4));
    ws.deliver(frame(5));
    expect(session.seq).toBe(7);
    ws.deliver(frame(6));
    live().deliver(frame(8));
    expect(session.seq).toBe(8);
    expect(session.pixelAt(0, 0)).toBe(8);
    expect(session.pixelsApplied).toBe(6);
    await wait(5_000);
    expect(catchUps(ws)).toEqual([2]);
  });

  it("[P8][P19] a Resync in the live socket's replay loads a fresh snapshot", async () => {
    const session = await connected(3);
    edge().drop();
    snapshotSeq = 5_000;
    await join(4_990, 2, 5_000);
    live().deliver(encodeResync(5_000));
    live().deliver(frame(5_001));
    await wait(2_000);
    expect(snapshotsFetched).toBe(2);
    expect(session.seq).toBe(5_001);
    expect(seen.status).toBe("connected");
  });

  it("[P19] the live socket closing drops the edge socket too, and both are opened again", async () => {
    await connected(2);
    const [oldEdge, oldLive] = [edge(), live()];
    oldLive.drop(1006);
    expect(oldEdge.closedBy?.code).toBe(1000);
    expect(seen.status).toBe("reconnecting");
    oldEdge.drop(1000);
    const ws = await join(2);
    expect(ws).not.toBe(oldEdge);
    expect(FakeSocket.count("/ws")).toBe(2);
    expect(FakeSocket.count("/ws/live")).toBe(2);
  });

  it("[P19] the edge socket closing drops the live socket too", async () => {
    await connected(2);
    const oldLive = live();
    edge().drop(4009, "canvas_unavailable");
    expect(oldLive.closedBy?.code).toBe(1000);
    expect(seen.status).toBe("reconnecting");
    expect(seen.messages.at(-1)).toBe("The server closed the connection (canvas_unavailable); reconnecting.");
    // The live socket's close comes after: it is not a second drop.
    oldLive.drop(1000);
    await join(2);
    expect(FakeSocket.count("/ws")).toBe(2);
  });

  it("[P2][P9][P19] stops for good on the edge's version_mismatch close, even after the live socket closed first", async () => {
    await connected(2);
    live().drop(1006);
    edge().drop(4006, "version_mismatch");
    expect(seen.status).toBe("failed");
    await wait(30_000);
    expect(FakeSocket.count("/ws")).toBe(1);
  });

  it("[P2][P19] a live hello of another version stops the page, like a version mismatch", async () => {
    const session = new Session("ws://test/ws", "/api/canvas", view());
    session.start();
    edge().accept();
    edge().deliver(hello(0));
    live().accept();
    live().deliver(new Uint8Array([Op.LiveHello, PROTOCOL_VERSION + 1, 0, 0, 0, 0]));
    expect(seen.status).toBe("failed");
    expect(seen.messages.at(-1)).toMatch(/out of date \(version_mismatch\): reload/);
    expect(edge().closedBy?.code).toBe(1000);
    expect(live().closedBy?.code).toBe(1000);
    await wait(30_000);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it("[P19] a hello on the wrong socket, or a live hello behind the edge's, starts over", async () => {
    await connected(4);
    live().deliver(hello(4));
    expect(seen.status).toBe("reconnecting");
    await wait(11_000);
    edge().accept();
    edge().deliver(hello(4));
    // The canvas lost its history between the two joins (its storage was reset).
    live().accept();
    live().deliver(encodeLiveHello(1));
    expect(seen.status).toBe("reconnecting");
    expect(live().closedBy?.code).toBe(1000);
  });
});

describe("placing while connected", () => {
  it("[P11][P9] a placement the server refuses is rolled back at once, with a message", async () => {
    const session = await connected();
    const ws = edge();
    expect(session.place(1, 1, 5, { checkLocally: false })).toBe("sent");
    expect(session.pixelAt(1, 1)).toBe(5);
    expect(session.pending).toBe(1);
    const [place] = places(ws);
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
    expect(places(edge())).toHaveLength(2);
  });
});

describe("placing while disconnected", () => {
  it("queues pixels, shows them, and sends them on reconnect as fast as the budget allows", async () => {
    const session = await connected();
    edge().drop();
    expect(seen.status).toBe("reconnecting");
    for (const x of [1, 2, 3]) expect(session.place(x, 0, 7)).toBe("queued");
    expect(seen.messages.at(-1)).toMatch(/queued \(3 of 32\)/);
    expect(session.pending).toBe(3);
    expect(seen.queued).toBe(3);
    expect(session.pixelAt(3, 0)).toBe(7);

    const ws = await join(0);
    // The budget is 2: two pixels in one frame now…
    expect(places(ws).map((p) => p.pixels.map((px) => px.x))).toEqual([[1, 2]]);
    expect(session.pending).toBe(3);
    live().deliver(
      encodePixels(1, [
        { x: 1, y: 0, colour: 7 },
        { x: 2, y: 0, colour: 7 },
      ]),
    );
    expect(session.pending).toBe(1);
    // …and the third once the budget has refilled (1 per second), with a little slack so that it does
    // not reach an edge whose bucket started a moment later than the page's.
    await wait(1_050);
    expect(places(ws)).toHaveLength(1);
    await wait(200);
    expect(places(ws).map((p) => p.pixels.map((px) => px.x))).toEqual([[1, 2], [3]]);
    expect(seen.queued).toBe(0);
  });

  it("a queued batch refused as rate limited goes back in the queue instead of being dropped", async () => {
    const session = await connected();
    edge().drop();
    session.place(4, 4, 2);
    const ws = await join(0);
    const [first] = places(ws);
    ws.deliver(encodeError(ErrorCode.RateLimited, "slow down", first?.nonce, 300));
    expect(session.pixelAt(4, 4)).toBe(2);
    expect(session.pending).toBe(1);
    expect(seen.queued).toBe(1);
    await wait(600);
    expect(places(ws)).toHaveLength(2);
    expect(places(ws)[1]?.pixels).toEqual([{ x: 4, y: 4, colour: 2 }]);
  });

  it("refuses a pixel beyond the queue's capacity, with a message", async () => {
    const session = await connected();
    edge().drop();
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
    edge().drop();
    // Keep the server away: every retry fails at once.
    const refuse = setInterval(() => {
      const ws = edge();
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

describe("placements unanswered when the connection closed", () => {
  it("[P19] are settled by the live socket's replay when the server had applied them", async () => {
    const session = await connected(3);
    const old = edge();
    session.place(6, 6, 4);
    old.drop();
    const ws = await join(4);
    // The live socket replays from 3; until the replay arrives the page sends nothing new.
    expect(live().from).toBe("3");
    expect(places(ws)).toEqual([]);
    live().deliver(encodePixels(4, [{ x: 6, y: 6, colour: 4 }]));
    expect(session.pending).toBe(0);
    await wait(2_000);
    expect(places(ws)).toEqual([]);
    expect(session.pixelAt(6, 6)).toBe(4);
  });

  it("[P19] wait for the live hello's sequence, not only the edge hello's, before counting as lost", async () => {
    const session = await connected(3);
    session.place(6, 6, 4);
    edge().drop();
    // A frame was broadcast between the two sockets' joins: the edge's hello says 3, the live's 4.
    const ws = await join(3, 2, 4);
    await wait(2_000);
    expect(places(ws)).toEqual([]);
    expect(session.pending).toBe(1);
    // Frame 4 is someone else's pixel: now the page knows its own was lost, and sends it again.
    live().deliver(encodePixels(4, [{ x: 1, y: 1, colour: 2 }]));
    expect(places(ws).map((p) => p.pixels)).toEqual([[{ x: 6, y: 6, colour: 4 }]]);
    expect(session.pixelAt(6, 6)).toBe(4);
  });

  it("are sent again when the caught-up canvas shows they were lost with the connection", async () => {
    const session = await connected(3);
    session.place(6, 6, 4);
    edge().drop();
    // While disconnected they stay shown, as not confirmed.
    expect(session.pixelAt(6, 6)).toBe(4);
    expect(session.pending).toBe(1);
    const ws = await join(3);
    expect(places(ws).map((p) => p.pixels)).toEqual([[{ x: 6, y: 6, colour: 4 }]]);
    expect(session.pending).toBe(1);
  });
});

describe("waking up", () => {
  it("[P19] reconnects after the machine slept, letting both sockets go, resuming from the sequence it holds", async () => {
    await connected(5);
    const [oldEdge, oldLive] = [edge(), live()];
    const before = FakeSocket.all.length;
    // The wall clock jumps while the monotonic clock stood still: a suspend.
    vi.setSystemTime(Date.now() + 120_000);
    await wait(1_000);
    await wait(1_000);
    expect(oldEdge.closedBy?.code).toBe(1000);
    expect(oldLive.closedBy?.code).toBe(1000);
    expect(FakeSocket.all.length).toBe(before + 1);
    edge().accept();
    expect(sent(edge())).toEqual([{ op: Op.ClientHello, version: PROTOCOL_VERSION, resumeSeq: 0 }]);
    edge().deliver(hello(9));
    expect(live().url).toBe("ws://test/ws/live?from=5");
  });
});

describe("live limits and moderation", () => {
  it("[P17] the budget follows the canvas's Limits frame, without a refill, across reconnects", async () => {
    const session = await connected();
    expect(session.place(1, 1, 5)).toBe("sent");
    expect(session.place(2, 1, 5)).toBe("sent");
    edge().deliver(encodeLimits({ pixelsPerSecond: 5, burst: 10, frozen: false }));
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
    edge().drop();
    await join(2);
    expect(session.budget(performance.now())).toMatchObject({ burst: 10, pixelsPerSecond: 5 });
    edge().deliver(encodeLimits({ pixelsPerSecond: 1, burst: 3, frozen: false }));
    expect(session.budget(performance.now())).toMatchObject({ available: 3, burst: 3, pixelsPerSecond: 1 });
  });

  it("[P17] while the canvas is frozen nothing is placed, the view says so, and unfrozen drawing is back", async () => {
    const session = await connected();
    const ws = edge();
    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: true }));
    expect(seen.moderation).toEqual({ frozen: true, banned: false });
    expect(session.frozen).toBe(true);
    expect(session.place(1, 1, 5)).toBe("frozen");
    expect(seen.messages.at(-1)).toMatch(/Not placed: the canvas is frozen/);
    expect(session.pixelAt(1, 1)).toBe(0);
    expect(session.pending).toBe(0);
    expect(places(ws)).toEqual([]);

    // A page that did not know (checkLocally: false) is refused by the server and rolled back.
    expect(session.place(2, 2, 5, { checkLocally: false })).toBe("sent");
    const [place] = places(ws);
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
    edge().drop();
    for (const x of [1, 2, 3]) session.place(x, 0, 7);
    const ws = await join(0);
    // Two go at once (the budget); the third waits for the refill…
    expect(places(ws).map((p) => p.pixels.length)).toEqual([2]);
    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: true }));
    await wait(1_500);
    // …and is dropped when its turn comes: the server would refuse it.
    expect(places(ws)).toHaveLength(1);
    expect(seen.messages).toContain("1 unsent pixel was dropped: the canvas is frozen.");
    expect(session.pixelAt(3, 0)).toBe(0);
    expect(seen.queued).toBe(0);
  });

  it("[P17] a ban the Limits frame announces: the view says so, nothing is placed or sent, and unbanned drawing is back", async () => {
    const session = await connected();
    const ws = edge();
    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false, banned: true }));
    expect(seen.moderation).toEqual({ frozen: false, banned: true });
    expect(session.banned).toBe(true);
    expect(session.frozen).toBe(false);
    // No optimistic pixel that the server's refusal would take back a moment later.
    expect(session.place(1, 1, 5)).toBe("banned");
    expect(seen.messages.at(-1)).toBe("Not placed: this browser may watch but not draw (it is banned from drawing).");
    expect(session.pixelAt(1, 1)).toBe(0);
    expect(session.pending).toBe(0);
    expect(places(ws)).toEqual([]);
    // The page still watches.
    live().deliver(encodePixels(1, [{ x: 5, y: 5, colour: 9 }]));
    expect(session.pixelAt(5, 5)).toBe(9);

    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false, banned: false }));
    expect(seen.moderation).toEqual({ frozen: false, banned: false });
    expect(seen.messages.at(-1)).toBe("This browser may draw again.");
    expect(session.place(1, 1, 5)).toBe("sent");
    expect(session.pixelAt(1, 1)).toBe(5);
  });

  it("[P17] a ban holds across a reconnect until the next Limits frame says otherwise", async () => {
    const session = await connected();
    edge().deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false, banned: true }));
    edge().drop();
    // Not connected: refused, not queued (it could never be sent).
    expect(session.place(1, 1, 5)).toBe("banned");
    expect(session.queued).toBe(0);
    const ws = await join(1);
    // Between the hello and its Limits frame the page still knows itself banned.
    expect(session.place(1, 1, 5)).toBe("banned");
    expect(places(ws)).toEqual([]);
    // The ban was lifted while the page was away: the frame after the hello says so.
    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false }));
    expect(session.banned).toBe(false);
    expect(seen.messages.at(-1)).toBe("This browser may draw again.");
    expect(session.place(1, 1, 5)).toBe("sent");
  });

  it("[P17] queued pixels still waiting when the browser is banned are dropped, with a message", async () => {
    const session = await connected();
    edge().drop();
    for (const x of [1, 2, 3]) session.place(x, 0, 7);
    const ws = await join(0);
    expect(places(ws).map((p) => p.pixels.length)).toEqual([2]);
    ws.deliver(encodeLimits({ pixelsPerSecond: 1, burst: 2, frozen: false, banned: true }));
    await wait(1_500);
    expect(places(ws)).toHaveLength(1);
    expect(seen.messages).toContain("1 unsent pixel was dropped: this browser is banned from drawing.");
    expect(session.pixelAt(3, 0)).toBe(0);
    expect(seen.queued).toBe(0);
  });

  it("[P17] frozen and banned at once: the ban is named, and lifting one says the other still holds", async () => {
    const session = await connected();
    const ws = edge();
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
    expect(places(ws)).toEqual([]);
    expect(session.place(1, 1, 5)).toBe("sent");
  });

  it("a ban the page did not know of is told plainly by the server's refusal: the pixel is taken back, and the page can still watch", async () => {
    const session = await connected();
    const ws = edge();
    expect(session.place(4, 4, 3)).toBe("sent");
    const [place] = places(ws);
    ws.deliver(encodeError(ErrorCode.Banned, "banned: this identity may not draw", place?.nonce));
    expect(session.pixelAt(4, 4)).toBe(0);
    expect(session.pending).toBe(0);
    expect(seen.messages.at(-1)).toBe(
      "You can watch but not draw: this browser is banned from drawing; the pixel was taken back.",
    );
    live().deliver(encodePixels(1, [{ x: 5, y: 5, colour: 9 }]));
    expect(session.pixelAt(5, 5)).toBe(9);
    expect(seen.status).toBe("connected");
  });
});
