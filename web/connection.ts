/**
 * @module connection
 * The sockets to the server and nothing more. A connection is two sockets [P19]: the edge socket
 * (`/ws`: the hellos, placements, catch-ups, errors and limits) and, once the edge's hello has
 * arrived, the live socket beside it (`/ws/live?from=N`: receive-only, straight from the canvas,
 * every Pixels frame after N and the presence). This module opens them in that order, sends the
 * hello first, hands over binary frames with the socket they came on, treats either socket's close
 * as the drop of both, and reconnects after a drop with capped, jittered backoff (waiting for the
 * browser to be online again rather than retrying into a dead network). What the frames mean is the
 * session's job, so the session says when a hello arrived (`joinLive`, `liveJoined`); whether a
 * close is worth retrying is the session's decision too.
 */

import { backoffDelay } from "./pacing.ts";

/** Where the link stands: the session turns this into what the page shows. */
export type LinkState =
  /** The sockets are opening: the edge socket, then the live socket, until the live hello arrives. */
  | "connecting"
  /** Both sockets are open: the hello was sent and the live socket's hello arrived. */
  | "open"
  /** One socket closed; the other is closing, and its close (its reason) is briefly awaited. */
  | "closing"
  /** Closed; the next attempt is scheduled. */
  | "waiting"
  /** Closed, and the browser says it is offline: waiting for it to come back. */
  | "offline"
  /** Closed for good (`stop`). */
  | "stopped";

/** Which socket of a connection a frame came on. */
export type SocketKind = "edge" | "live";

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface ConnectionEvents {
  /** The first frame on every new edge socket. Called when it opens, so it carries current state. */
  hello(): Uint8Array;
  /** A binary frame from the server, and the socket it came on. */
  message(data: ArrayBuffer, from: SocketKind): void;
  /** The connection dropped (both its sockets are gone). The answer says whether to try again. */
  closed(close: CloseInfo): "retry" | "stop";
  /** The link changed state; `retryInMs` is set while waiting. */
  link(state: LinkState, retryInMs?: number): void;
}

/**
 * A link that stayed up this long counts as a success, and the backoff starts over. Resetting on
 * every successful open instead would let a server that accepts and at once closes (overload, a
 * flooded connection) be hammered at the shortest delay forever.
 */
const STABLE_AFTER_MS = 5_000;

/**
 * How long a drop that began with the live socket waits for the edge socket's close. The edge's
 * close code is the one that names a fatal error (4000 + code [P9]) — a version mismatch must stop
 * the page, not retry — and the two closes of one drop (a canvas restart closes both) arrive in
 * either order. The edge socket normally closes within a round trip of being asked to.
 */
const CLOSE_GRACE_MS = 1_000;

/** The two sockets of one connection, replaced together on every reconnect. */
interface Pair {
  edge: WebSocket;
  /** Opened once the edge socket's hello arrived (`joinLive`). */
  live: WebSocket | undefined;
  /** When the live socket's hello arrived: the link opened. */
  openedAt: number | undefined;
  /** The live socket's close, while the drop it began waits for the edge socket's. */
  liveClose: CloseInfo | undefined;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
}

/** The live socket's URL [P19]: beside the edge socket's (`…/ws` → `…/ws/live`), replaying after `from`. */
export function liveUrl(socketUrl: string, from: number): string {
  const url = new URL(socketUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/live`;
  url.searchParams.set("from", String(from));
  return url.toString();
}

/** A close code that names a fatal protocol error: 4000 + its code [P9]. */
function isFatal(close: CloseInfo): boolean {
  return close.code >= 4000 && close.code <= 4999;
}

export class Connection {
  private pair: Pair | undefined;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private currentState: LinkState = "connecting";

  constructor(
    private readonly url: string,
    private readonly events: ConnectionEvents,
    private readonly random: () => number = Math.random,
  ) {}

  get state(): LinkState {
    return this.currentState;
  }

  start(): void {
    // Coming back online is the moment to retry, whatever the backoff timer says.
    globalThis.addEventListener("online", () => {
      if (this.pair || this.stopped) return;
      this.clearRetry();
      this.open();
    });
    this.open();
  }

  /** Sends a frame on the edge socket if it is open; says whether it did. Nothing is queued while closed. */
  send(bytes: Uint8Array): boolean {
    const pair = this.pair;
    if (!pair || pair.liveClose || pair.edge.readyState !== WebSocket.OPEN) return false;
    pair.edge.send(bytes);
    return true;
  }

  /**
   * The edge socket's hello arrived: opens the live socket, which replays every Pixels frame after
   * `from` and then carries the broadcast [P19]. Once per connection.
   */
  joinLive(from: number): void {
    const pair = this.pair;
    if (!pair || pair.live || pair.liveClose) return;
    const live = new WebSocket(liveUrl(this.url, from));
    live.binaryType = "arraybuffer";
    pair.live = live;
    // Nothing is ever sent on it: the canvas closes a live socket that speaks (bad_frame).
    this.listen(pair, live, "live");
  }

  /** The live socket's hello arrived: the link is open. */
  liveJoined(): void {
    const pair = this.pair;
    if (!pair?.live || pair.liveClose || pair.openedAt !== undefined) return;
    pair.openedAt = performance.now();
    this.setState("open");
  }

  /**
   * Drops both sockets and connects again after the usual backoff: the server sent nonsense, or the
   * machine woke from sleep. The sockets are let go at once instead of waiting for their close
   * events: one whose TCP connection died during the sleep can take minutes to report that it closed.
   */
  reconnect(reason: string): void {
    const pair = this.pair;
    if (!pair || this.stopped) return;
    this.dropped(pair, pair.liveClose ?? { code: 1000, reason }, reason);
  }

  /** Closes for good; nothing reconnects after this. */
  stop(): void {
    this.stopped = true;
    this.clearRetry();
    const pair = this.pair;
    this.pair = undefined;
    if (pair) letGo(pair, "stopped");
    this.setState("stopped");
  }

  private open(): void {
    if (this.stopped) return;
    if (!navigator.onLine) {
      this.setState("offline");
      return;
    }
    const edge = new WebSocket(this.url);
    edge.binaryType = "arraybuffer";
    const pair: Pair = { edge, live: undefined, openedAt: undefined, liveClose: undefined, graceTimer: undefined };
    this.pair = pair;
    this.setState("connecting");
    edge.addEventListener("open", () => {
      if (pair === this.pair && !pair.liveClose) edge.send(this.events.hello());
    });
    this.listen(pair, edge, "edge");
  }

  /**
   * Every handler checks that its pair is still the current one: sockets replaced by newer ones may
   * still deliver late frames or a late close, and that must not schedule a second reconnect.
   */
  private listen(pair: Pair, socket: WebSocket, kind: SocketKind): void {
    socket.addEventListener("message", (event: MessageEvent<unknown>) => {
      if (pair !== this.pair || pair.liveClose) return;
      // Binary frames arrive as ArrayBuffers (binaryType), in order; a text frame is not ours to interpret.
      if (event.data instanceof ArrayBuffer) this.events.message(event.data, kind);
    });
    socket.addEventListener("close", (event) => {
      if (pair !== this.pair) return;
      const close = { code: event.code, reason: event.reason };
      if (kind === "edge") {
        // The edge's close names the drop when it carries a fatal error; else the first close does.
        this.dropped(pair, pair.liveClose && !isFatal(close) ? pair.liveClose : close);
        return;
      }
      // The live socket closed first: the edge socket goes too, and its close may say why.
      pair.liveClose = close;
      pair.edge.close(1000, "live socket closed");
      pair.graceTimer = setTimeout(() => this.dropped(pair, close), CLOSE_GRACE_MS);
      this.setState("closing");
    });
    // An "error" event is always followed by "close", which does the work.
  }

  /** The pair is gone (a socket closed, or `reconnect` let it go): close what is left, retry or stop. */
  private dropped(pair: Pair, close: CloseInfo, goodbye = "reconnecting"): void {
    if (pair !== this.pair) return;
    this.pair = undefined;
    letGo(pair, goodbye);
    const stable = pair.openedAt !== undefined && performance.now() - pair.openedAt >= STABLE_AFTER_MS;
    if (stable) this.attempt = 0;
    if (this.events.closed(close) === "stop") {
      this.stop();
      return;
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    if (!navigator.onLine) {
      this.setState("offline");
      return;
    }
    const delay = backoffDelay(this.attempt, this.random);
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, delay);
    this.setState("waiting", delay);
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private setState(state: LinkState, retryInMs?: number): void {
    this.currentState = state;
    this.events.link(state, retryInMs);
  }
}

/** Closes both sockets of a pair that is no longer current (closing a closed socket does nothing). */
function letGo(pair: Pair, reason: string): void {
  if (pair.graceTimer !== undefined) clearTimeout(pair.graceTimer);
  pair.graceTimer = undefined;
  pair.edge.close(1000, reason);
  pair.live?.close(1000, reason);
}
