/**
 * @module fake-socket
 * A WebSocket the unit tests drive in Node (connection.test.ts, session.test.ts): the test plays the
 * server, opening, delivering and closing when it says so, and reads what the page sent and how it
 * closed the socket. Install it with `vi.stubGlobal("WebSocket", FakeSocket)`. Like a browser's, a
 * socket the page closes reports its close event only when the server answers (`drop`), if ever.
 */

type Listener = (event: unknown) => void;

export interface Closed {
  code: number;
  reason: string;
}

export class FakeSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  /** Every socket opened since the test began, oldest first (the test empties it). */
  static all: FakeSocket[] = [];

  readyState = FakeSocket.CONNECTING;
  binaryType = "blob";
  /** The frames the page sent, as sent. */
  readonly sent: Uint8Array[] = [];
  /** How the page closed it, if it did. */
  closedBy: Closed | undefined;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  /** The newest socket opened on this path (`/ws`, `/ws/live`). */
  static last(path: string): FakeSocket {
    const found = FakeSocket.all.filter((socket) => socket.path === path).at(-1);
    if (!found) throw new Error(`no socket opened on ${path}`);
    return found;
  }

  /** How many sockets were opened on this path. */
  static count(path: string): number {
    return FakeSocket.all.filter((socket) => socket.path === path).length;
  }

  get path(): string {
    return new URL(this.url).pathname;
  }

  /** The URL's `from` parameter (the live socket's replay start), if it has one. */
  get from(): string | null {
    return new URL(this.url).searchParams.get("from");
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(bytes: Uint8Array): void {
    if (this.readyState !== FakeSocket.OPEN) throw new Error(`sent on a socket in state ${this.readyState}`);
    this.sent.push(bytes.slice());
  }

  close(code = 1005, reason = ""): void {
    if (this.readyState >= FakeSocket.CLOSING) return;
    this.readyState = FakeSocket.CLOSING;
    this.closedBy = { code, reason };
  }

  // The server's side.

  accept(): void {
    this.readyState = FakeSocket.OPEN;
    this.emit("open", {});
  }

  deliver(bytes: Uint8Array): void {
    this.emit("message", { data: bytes.slice().buffer });
  }

  /** The socket closes (the server closed it, or answered the page's close) with this code. */
  drop(code = 1006, reason = ""): void {
    this.readyState = FakeSocket.CLOSED;
    this.emit("close", { code, reason });
  }

  private emit(type: string, event: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}
