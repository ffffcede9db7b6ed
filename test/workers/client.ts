/**
 * A protocol client for the workers tier: opens real WebSocket upgrades against the Worker (SELF) —
 * the edge socket and, as the page does, the live socket [P19] — decodes every server frame of both
 * with the shared codec into one list, and lets tests wait for the frames they expect.
 */
import { env, SELF } from "cloudflare:test";
import { afterEach } from "vitest";
import { CANVAS_NAME } from "../../worker/canvas/canvas-object.ts";
import {
  type CanvasBounds,
  decodeServerMessage,
  encodeClientHello,
  Op,
  type Pixel,
  type ServerHello,
  type ServerMessage,
} from "../../worker/protocol.ts";

export interface Closed {
  code: number;
  reason: string;
}

export class TestClient {
  readonly messages: ServerMessage[] = [];
  /** The edge socket's close. */
  readonly closed: Promise<Closed>;
  /** The live socket [P19], unless the client connected without one. */
  live: WebSocket | undefined;
  liveClosed: Promise<Closed> | undefined;
  private waiters: (() => void)[] = [];
  private cursor = 0;
  hello!: ServerHello;
  /** The identity cookie the upgrade set (`pp_id=…`), when the client had none. */
  setCookie: string | undefined;

  private constructor(readonly ws: WebSocket) {
    this.closed = this.listen(ws);
  }

  /** Collects a socket's frames into `messages`; resolves when it closes. */
  private listen(ws: WebSocket): Promise<Closed> {
    ws.addEventListener("message", (event) => {
      if (typeof event.data === "string") throw new Error(`server sent text: ${event.data}`);
      const decoded = decodeServerMessage(event.data, this.bounds());
      if (!decoded.ok) throw new Error(`server sent a bad frame: ${decoded.error.message}`);
      this.messages.push(decoded.value);
      for (const wake of this.waiters.splice(0)) wake();
    });
    return new Promise((resolve) => {
      ws.addEventListener("close", (event) => {
        resolve({ code: event.code, reason: event.reason });
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  private bounds(): CanvasBounds | undefined {
    return this.hello
      ? { width: this.hello.width, height: this.hello.height, paletteSize: this.hello.palette.length }
      : undefined;
  }

  /**
   * Opens /ws, waits for the server hello, (unless told not to) sends the client hello, and then
   * opens /ws/live from the hello's sequence — or from `resumeSeq`, which is how a page resumes — and
   * waits for its LiveHello. `live: false` opens the edge socket alone; `resumeSeq` then goes in the
   * client hello instead. `cookie` presents an identity (`pp_id=…`); `ip` stands for the client
   * address Cloudflare would give.
   */
  static async connect(
    options: {
      origin?: string;
      hello?: boolean;
      resumeSeq?: number;
      cookie?: string;
      ip?: string;
      live?: boolean;
    } = {},
  ): Promise<TestClient> {
    const headers: Record<string, string> = { Upgrade: "websocket" };
    if (options.origin) headers.Origin = options.origin;
    if (options.cookie) headers.Cookie = options.cookie;
    if (options.ip) headers["CF-Connecting-IP"] = options.ip;
    const response = await SELF.fetch("https://pixels.test/ws", { headers });
    const ws = response.webSocket;
    if (response.status !== 101 || !ws) throw new Error(`upgrade failed: ${response.status} ${await response.text()}`);
    ws.binaryType = "arraybuffer";
    ws.accept();
    const client = new TestClient(ws);
    client.setCookie = response.headers.get("Set-Cookie") ?? undefined;
    const hello = await client.next((m) => m.op === Op.ServerHello);
    if (hello.op !== Op.ServerHello) throw new Error("unreachable");
    client.hello = hello;
    const live = options.live !== false;
    if (options.hello !== false) client.send(encodeClientHello(live ? 0 : (options.resumeSeq ?? 0)));
    if (live) await client.openLive(options.resumeSeq || hello.seq, headers);
    return client;
  }

  /** Opens the live socket from `from` and waits for its LiveHello. */
  async openLive(from: number, headers: Record<string, string> = { Upgrade: "websocket" }): Promise<void> {
    const response = await SELF.fetch(`https://pixels.test/ws/live?from=${from}`, { headers });
    const ws = response.webSocket;
    if (response.status !== 101 || !ws) {
      throw new Error(`live upgrade failed: ${response.status} ${await response.text()}`);
    }
    ws.binaryType = "arraybuffer";
    // Waited for on the socket itself, without moving the cursor: the edge socket's frames stay for
    // the test to read.
    const greeted = new Promise<void>((resolve) => ws.addEventListener("message", () => resolve(), { once: true }));
    this.live = ws;
    this.liveClosed = this.listen(ws);
    ws.accept();
    await greeted;
  }

  send(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  /** Waits for the next message (after those already consumed) that matches. */
  async next<T extends ServerMessage>(match: (m: ServerMessage) => m is T, timeoutMs?: number): Promise<T>;
  async next(match: (m: ServerMessage) => boolean, timeoutMs?: number): Promise<ServerMessage>;
  async next(match: (m: ServerMessage) => boolean, timeoutMs = 3000): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.messages.length) {
        const m = this.messages[this.cursor++];
        if (m && match(m)) return m;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a message");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Every pixel frame received so far, in arrival order. */
  pixelFrames() {
    return this.messages.filter((m) => m.op === Op.Pixels);
  }

  close(): void {
    for (const ws of [this.ws, this.live]) {
      try {
        ws?.close(1000, "done");
      } catch {
        // already closed
      }
    }
  }
}

/** A `TestClient.connect` whose clients are closed after each test of the file that makes it. */
export function connectClosedAfterEach(): (options?: Parameters<typeof TestClient.connect>[0]) => Promise<TestClient> {
  const open: TestClient[] = [];
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  return async (options) => {
    const client = await TestClient.connect(options);
    open.push(client);
    return client;
  };
}

/** The origin the workers tier sends its requests to. */
export const BASE = "https://pixels.test";
/** The admin token the workers tier configures (vitest.config.ts). */
export const ADMIN_TOKEN = "test-admin-token";

export interface Reply {
  status: number;
  body: unknown;
  headers: Headers;
}

/** Calls the HTTP API as the admin (or with `token`; null sends none); parses JSON bodies. */
export async function api(
  method: string,
  path: string,
  options: { body?: unknown; token?: string | null } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? ADMIN_TOKEN : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  const res = await SELF.fetch(`${BASE}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a canvas channel is opened with: what an edge session sends in its channel URL. */
export interface ChannelParams {
  isolate: string;
  identity: string;
  network: string;
  session: number;
  region?: string;
}

/** A channel straight to the canvas, as an edge session opens one, accepted here. */
export async function canvasChannel(p: ChannelParams): Promise<WebSocket> {
  const query = new URLSearchParams({
    isolate: p.isolate,
    region: p.region ?? "test",
    identity: p.identity,
    network: p.network,
    session: String(p.session),
  });
  const canvas = env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));
  const res = await canvas.fetch(`https://canvas/channel?${query}`, { headers: { Upgrade: "websocket" } });
  const ws = res.webSocket;
  if (!ws) throw new Error(`channel refused: ${res.status}`);
  ws.binaryType = "arraybuffer";
  ws.accept();
  return ws;
}

/** Waits until `check` holds, polling every `everyMs`; throws after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 3000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(everyMs);
  }
}

/** `n` pixels in a row from x = 0 on row `y`. */
export function pixelRow(n: number, y: number, colour = 1): Pixel[] {
  return Array.from({ length: n }, (_, x) => ({ x, y, colour }));
}

/** Byte-for-byte equality, reporting the first difference so a failure says where. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number | undefined {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return undefined;
}
