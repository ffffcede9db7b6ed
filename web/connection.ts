/**
 * @module connection
 * The socket to the server and nothing more: open it, send the hello first, hand over binary
 * frames, and reconnect after a drop with capped, jittered backoff (waiting for the browser to be
 * online again rather than retrying into a dead network). What the frames mean is the session's job;
 * whether a close is worth retrying is the session's decision too.
 */

import { backoffDelay } from "./pacing.ts";

/** Where the link stands: the session turns this into what the page shows. */
export type LinkState =
  /** A socket is opening. */
  | "connecting"
  /** The socket is open and the hello was sent. */
  | "open"
  /** Closed; the next attempt is scheduled. */
  | "waiting"
  /** Closed, and the browser says it is offline: waiting for it to come back. */
  | "offline"
  /** Closed for good (`stop`). */
  | "stopped";

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface ConnectionEvents {
  /** The first frame on every new socket. Called when the socket opens, so it carries current state. */
  hello(): Uint8Array;
  /** A binary frame from the server. */
  message(data: ArrayBuffer): void;
  /** The socket closed. The answer says whether to try again. */
  closed(close: CloseInfo): "retry" | "stop";
  /** The link changed state; `retryInMs` is set while waiting. */
  link(state: LinkState, retryInMs?: number): void;
}

/**
 * A socket that stayed up this long counts as a success, and the backoff starts over. Resetting on
 * every successful open instead would let a server that accepts and at once closes (overload, a
 * flooded connection) be hammered at the shortest delay forever.
 */
const STABLE_AFTER_MS = 5_000;

export class Connection {
  private socket: WebSocket | undefined;
  private attempt = 0;
  private openedAt: number | undefined;
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
      if (this.socket || this.stopped) return;
      this.clearRetry();
      this.open();
    });
    this.open();
  }

  /** Sends a frame if the socket is open; says whether it did. Nothing is queued while closed. */
  send(bytes: Uint8Array): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(bytes);
    return true;
  }

  /**
   * Drops the socket and connects again after the usual backoff: the server sent nonsense, or the
   * machine woke from sleep. The socket is let go at once instead of waiting for its close event: one
   * whose TCP connection died during the sleep can take minutes to report that it closed.
   */
  reconnect(reason: string): void {
    const socket = this.socket;
    if (!socket || this.stopped) return;
    this.socket = undefined;
    socket.close(1000, reason);
    this.closed({ code: 1000, reason });
  }

  /** Closes for good; nothing reconnects after this. */
  stop(): void {
    this.stopped = true;
    this.clearRetry();
    const socket = this.socket;
    this.socket = undefined;
    socket?.close(1000, "stopped");
    this.setState("stopped");
  }

  private open(): void {
    if (this.stopped) return;
    if (!navigator.onLine) {
      this.setState("offline");
      return;
    }
    const socket = new WebSocket(this.url);
    // Binary frames would otherwise arrive as Blobs, which need an async read and lose frame order.
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.openedAt = undefined;
    this.setState("connecting");

    // Every handler checks that its socket is still the current one: a socket replaced by a newer one
    // may still deliver a late close, and that must not schedule a second reconnect.
    socket.addEventListener("open", () => {
      if (socket !== this.socket) return;
      this.openedAt = performance.now();
      socket.send(this.events.hello());
      this.setState("open");
    });
    socket.addEventListener("message", (event: MessageEvent<unknown>) => {
      if (socket !== this.socket) return;
      // The protocol is binary only; a text frame is not ours to interpret.
      if (event.data instanceof ArrayBuffer) this.events.message(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.socket = undefined;
      this.closed({ code: event.code, reason: event.reason });
    });
    // An "error" event is always followed by "close", which does the work.
  }

  /** The current socket is gone (it closed, or `reconnect` let it go): retry or stop. */
  private closed(close: CloseInfo): void {
    const stable = this.openedAt !== undefined && performance.now() - this.openedAt >= STABLE_AFTER_MS;
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
