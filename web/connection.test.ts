/**
 * Tests of the page's connection (connection.ts) against fake sockets and fake clocks in Node: a
 * connection is the edge socket and the live socket beside it [P19], opened in that order and open
 * only once the live hello arrived; either socket's close drops both, once, and the edge's fatal
 * close code names the drop whichever socket closed first; reconnect and stop let both go; the
 * backoff starts over only after a whole link stayed up.
 */

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type CloseInfo, Connection, type LinkState, liveUrl, type SocketKind } from "./connection.ts";
import { FakeSocket } from "./fake-socket.ts";

const HELLO = new Uint8Array([0x01, 2, 0, 0, 0, 0]);

/** What the connection told its owner. */
interface Told {
  states: LinkState[];
  retries: number[];
  closes: CloseInfo[];
  frames: { from: SocketKind; bytes: number[] }[];
}

let told: Told;
let decision: "retry" | "stop";

/** A started connection to ws://test/ws; the random source picks the longest backoff each time. */
function connection(): Connection {
  const c = new Connection(
    "ws://test/ws",
    {
      hello: () => HELLO,
      message: (data, from) => told.frames.push({ from, bytes: [...new Uint8Array(data)] }),
      closed: (close) => {
        told.closes.push(close);
        return decision;
      },
      link: (state, retryInMs) => {
        told.states.push(state);
        if (retryInMs !== undefined) told.retries.push(retryInMs);
      },
    },
    () => 0.999,
  );
  c.start();
  return c;
}

/** Opens the newest edge socket, "receives its hello" and joins the live socket, from `from`. */
function link(c: Connection, from = 0): { edge: FakeSocket; live: FakeSocket } {
  const edge = FakeSocket.last("/ws");
  edge.accept();
  c.joinLive(from);
  const live = FakeSocket.last("/ws/live");
  live.accept();
  c.liveJoined();
  return { edge, live };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  FakeSocket.all = [];
  told = { states: [], retries: [], closes: [], frames: [] };
  decision = "retry";
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("navigator", { onLine: true });
  vi.stubGlobal("addEventListener", () => {});
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("the live socket's URL", () => {
  it("[P19] sits beside the edge socket's, with the sequence to replay after", () => {
    expect(liveUrl("ws://localhost:8787/ws", 0)).toBe("ws://localhost:8787/ws/live?from=0");
    expect(liveUrl("wss://pixels.example/ws", 4_294_967_295)).toBe("wss://pixels.example/ws/live?from=4294967295");
    expect(liveUrl("wss://pixels.example/canvas/ws/", 12)).toBe("wss://pixels.example/canvas/ws/live?from=12");
  });
});

describe("a connection is two sockets", () => {
  it("[P19] opens the edge socket, sends the hello, then the live socket when told; open only once the live hello arrived", () => {
    const c = connection();
    expect(FakeSocket.all.map((s) => s.url)).toEqual(["ws://test/ws"]);
    const edge = FakeSocket.last("/ws");
    edge.accept();
    expect(edge.sent).toEqual([HELLO]);
    expect(c.state).toBe("connecting");
    // Frames before the live socket joins (the server hello) come from the edge socket.
    edge.deliver(new Uint8Array([0x81]));
    c.joinLive(41);
    c.joinLive(42); // once per connection
    expect(FakeSocket.all.map((s) => s.url)).toEqual(["ws://test/ws", "ws://test/ws/live?from=41"]);
    const live = FakeSocket.last("/ws/live");
    expect(live.binaryType).toBe("arraybuffer");
    live.accept();
    expect(c.state).toBe("connecting");
    live.deliver(new Uint8Array([0x87]));
    c.liveJoined();
    expect(c.state).toBe("open");
    live.deliver(new Uint8Array([0x82, 1]));
    edge.deliver(new Uint8Array([0x84, 2]));
    expect(told.frames).toEqual([
      { from: "edge", bytes: [0x81] },
      { from: "live", bytes: [0x87] },
      { from: "live", bytes: [0x82, 1] },
      { from: "edge", bytes: [0x84, 2] },
    ]);
    // Frames go out on the edge socket; the live socket only receives.
    expect(c.send(new Uint8Array([0x03, 0, 0, 0, 9]))).toBe(true);
    expect(edge.sent).toHaveLength(2);
    expect(live.sent).toEqual([]);
  });

  it("does not open a live socket before the edge socket is there, nor count the link open without one", () => {
    const c = connection();
    c.liveJoined();
    expect(c.state).toBe("connecting");
    FakeSocket.last("/ws").drop();
    c.joinLive(0);
    expect(FakeSocket.count("/ws/live")).toBe(0);
  });
});

describe("a drop", () => {
  it("[P19] the edge socket closing closes the live socket: one drop, one retry, late closes ignored", async () => {
    const { edge, live } = link(connection());
    edge.drop(4009, "canvas_unavailable");
    expect(live.closedBy?.code).toBe(1000);
    expect(told.closes).toEqual([{ code: 4009, reason: "canvas_unavailable" }]);
    expect(told.states.at(-1)).toBe("waiting");
    live.drop(1000);
    expect(told.closes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(300);
    expect(FakeSocket.count("/ws")).toBe(2);
    expect(FakeSocket.count("/ws/live")).toBe(1);
  });

  it("[P19] the live socket closing first closes the edge socket; the edge's fatal close names the drop", () => {
    const c = connection();
    const { edge, live } = link(c);
    live.drop(1006);
    expect(edge.closedBy?.code).toBe(1000);
    expect(c.state).toBe("closing");
    // While the drop waits for the edge's close, nothing is sent or handed over.
    expect(c.send(new Uint8Array([0x03, 0, 0, 0, 0]))).toBe(false);
    edge.deliver(new Uint8Array([0x84]));
    expect(told.frames).toEqual([]);
    decision = "stop";
    edge.drop(4006, "version_mismatch");
    expect(told.closes).toEqual([{ code: 4006, reason: "version_mismatch" }]);
    expect(c.state).toBe("stopped");
  });

  it("the live socket closing first names the drop when the edge's close is a plain one", () => {
    const c = connection();
    const { edge, live } = link(c);
    live.drop(1011, "restarting");
    edge.drop(1000);
    expect(told.closes).toEqual([{ code: 1011, reason: "restarting" }]);
    expect(c.state).toBe("waiting");
  });

  it("waits at most a second for the edge's close: a dead network may never bring it", async () => {
    const c = connection();
    const { edge, live } = link(c);
    live.drop(1006);
    await vi.advanceTimersByTimeAsync(999);
    expect(told.closes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(told.closes).toEqual([{ code: 1006, reason: "" }]);
    expect(c.state).toBe("waiting");
    edge.drop(4009);
    expect(told.closes).toHaveLength(1);
  });

  it("a live socket the server refuses (its upgrade failed) drops the connection too", () => {
    const c = connection();
    const edge = FakeSocket.last("/ws");
    edge.accept();
    c.joinLive(3);
    FakeSocket.last("/ws/live").drop(1006);
    edge.drop(1000);
    expect(told.closes).toEqual([{ code: 1006, reason: "" }]);
    expect(c.state).toBe("waiting");
  });

  it("[P19] reconnect lets both sockets go at once, without waiting for their close events", async () => {
    const c = connection();
    const { edge, live } = link(c);
    c.reconnect("woke from sleep");
    expect(edge.closedBy).toEqual({ code: 1000, reason: "woke from sleep" });
    expect(live.closedBy).toEqual({ code: 1000, reason: "woke from sleep" });
    expect(told.closes).toEqual([{ code: 1000, reason: "woke from sleep" }]);
    await vi.advanceTimersByTimeAsync(300);
    expect(FakeSocket.count("/ws")).toBe(2);
  });

  it("[P19] stop closes both for good", async () => {
    const c = connection();
    const { edge, live } = link(c);
    c.stop();
    expect(edge.closedBy?.code).toBe(1000);
    expect(live.closedBy?.code).toBe(1000);
    expect(c.state).toBe("stopped");
    edge.drop(1000);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(FakeSocket.all).toHaveLength(2);
    expect(told.closes).toEqual([]);
  });
});

describe("backoff", () => {
  it("grows while links fail, and starts over only after a whole link stayed up 5 s", async () => {
    const c = connection();
    // The edge socket opens, but the live socket never joins: not a success, however long it lasts.
    FakeSocket.last("/ws").accept();
    c.joinLive(0);
    await vi.advanceTimersByTimeAsync(6_000);
    FakeSocket.last("/ws").drop();
    await vi.advanceTimersByTimeAsync(told.retries.at(-1) ?? 0);
    link(c).edge.drop();
    await vi.advanceTimersByTimeAsync(told.retries.at(-1) ?? 0);
    const { edge } = link(c);
    await vi.advanceTimersByTimeAsync(5_000);
    edge.drop();
    // Full jitter at its longest (random 0.999): 250, 500 ms, then back to 250 after the stable link.
    expect(told.retries).toEqual([249, 499, 249]);
  });
});
