/**
 * The live socket [P19]: each connection's receive-only socket, checked by the edge and forwarded to
 * the canvas, which sends the broadcast on it directly. What it must do: greet with the sequence,
 * replay from `from` in the same step it joins, carry every broadcast and presence change and nothing
 * for the edge socket, refuse anything a client sends on it, and count against the socket caps.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { CANVAS_NAME } from "../../worker/canvas/canvas-object.ts";
import { app, LIVE_OPEN_BURST_FACTOR } from "../../worker/edge/app.ts";
import {
  closeCodeFor,
  decodeServerMessage,
  ErrorCode,
  encodePlace,
  Op,
  type PixelsFrame,
  type Presence,
  type ServerMessage,
} from "../../worker/protocol.ts";
import { api, BASE, canvasChannel, connectClosedAfterEach, pixelRow, sleep, type TestClient, until } from "./client.ts";

const connect = connectClosedAfterEach();

const isPixels = (m: { op: number }): m is PixelsFrame => m.op === Op.Pixels;
const stub = () => env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));

/** A bare live socket, decoding what it gets; `from` as the query gives it (undefined: none). */
async function liveSocket(from?: number | string, headers: Record<string, string> = {}) {
  const query = from === undefined ? "" : `?from=${from}`;
  const res = await SELF.fetch(`${BASE}/ws/live${query}`, { headers: { Upgrade: "websocket", ...headers } });
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) return { res, ws: undefined, messages: [] as ServerMessage[] };
  const messages: ServerMessage[] = [];
  ws.binaryType = "arraybuffer";
  ws.addEventListener("message", (event) => {
    const decoded = decodeServerMessage(event.data as ArrayBuffer, { width: 256, height: 128, paletteSize: 32 });
    if (!decoded.ok) throw new Error(decoded.error.message);
    messages.push(decoded.value);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
  );
  ws.accept();
  return { res, ws, messages, closed };
}

/** Places `pixels` from a client and waits until its own live socket shows the frame. */
async function placeAndSee(client: TestClient, nonce: number, y: number): Promise<PixelsFrame> {
  client.send(encodePlace(nonce, pixelRow(2, y, 3)));
  return client.next((m): m is PixelsFrame => isPixels(m) && m.pixels[0]?.y === y);
}

describe("[P19] live socket", () => {
  it("greets with the sequence, and carries the broadcast while the edge socket does not", async () => {
    const a = await connect();
    const b = await connect();
    const live = b.messages.find((m) => m.op === Op.LiveHello);
    expect(live).toMatchObject({ op: Op.LiveHello, seq: b.hello.seq });
    const edgeBytes: number[] = [];
    b.ws.addEventListener("message", (event) => edgeBytes.push(new Uint8Array(event.data as ArrayBuffer)[0] ?? 0));
    const frame = await placeAndSee(a, 1, 10);
    // b gets the frame on its live socket, once.
    await until(() => b.pixelFrames().some((f) => f.seq === frame.seq));
    await sleep(50);
    expect(b.pixelFrames().filter((f) => f.seq === frame.seq)).toHaveLength(1);
    // Nothing of the broadcast on the edge socket: no relay hop.
    expect(edgeBytes).not.toContain(Op.Pixels);
  });

  it("replays every frame after `from`, in order, before the live ones, in the step it joins", async () => {
    const a = await connect();
    const from = a.hello.seq;
    const placed: number[] = [];
    for (let i = 0; i < 5; i++) placed.push((await placeAndSee(a, 10 + i, 20 + i)).seq);
    const late = await liveSocket(from);
    await until(() => late.messages.filter(isPixels).length >= 5);
    const next = await placeAndSee(a, 20, 30);
    await until(() => late.messages.filter(isPixels).length >= 6);
    expect(late.messages[0]).toMatchObject({ op: Op.LiveHello, seq: placed.at(-1) });
    expect(late.messages.filter(isPixels).map((f) => f.seq)).toEqual([...placed, next.seq]);
    late.ws?.close(1000, "done");
  });

  it("without `from` starts at its hello's sequence: nothing is replayed", async () => {
    const a = await connect();
    await placeAndSee(a, 30, 40);
    const now = await liveSocket();
    await sleep(100);
    expect(now.messages.map((m) => m.op)).toEqual([Op.LiveHello, Op.Presence]);
    now.ws?.close(1000, "done");
  });

  it("a resuming client gets what it missed on its live socket, and the edge replays nothing", async () => {
    const a = await connect();
    const from = a.hello.seq;
    const missed = await placeAndSee(a, 40, 50);
    const b = await connect({ resumeSeq: from });
    await until(() => b.pixelFrames().some((f) => f.seq === missed.seq));
    await sleep(100);
    expect(b.pixelFrames().filter((f) => f.seq === missed.seq)).toHaveLength(1);
  });

  it("carries presence changes", async () => {
    const watcher = await connect();
    const before = watcher.messages.filter((m): m is Presence => m.op === Op.Presence).length;
    const other = await connect();
    await until(() => watcher.messages.filter((m): m is Presence => m.op === Op.Presence).length > before);
    other.close();
  });

  it("refuses anything a client sends on it with bad_frame and closes it; the canvas keeps serving", async () => {
    const a = await connect();
    const hostile = await liveSocket();
    hostile.ws?.send(encodePlace(1, [{ x: 1, y: 1, colour: 1 }]));
    const closed = await hostile.closed;
    expect(closed?.code).toBe(closeCodeFor(ErrorCode.BadFrame));
    const error = hostile.messages.find((m) => m.op === Op.Error);
    expect(error).toMatchObject({ code: ErrorCode.BadFrame });
    expect(error?.op === Op.Error && error.message).toContain("only receives");
    // Its pixel went nowhere, and everyone else still draws.
    const frame = await placeAndSee(a, 50, 60);
    expect(frame.pixels.some((p) => p.x === 1 && p.y === 1)).toBe(false);
  });

  it("is refused like /ws: no upgrade 426, a foreign origin 403, a bad `from` 400, other methods 405", async () => {
    const plain = await SELF.fetch(`${BASE}/ws/live`);
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: "upgrade_required" });
    const foreign = await liveSocket(undefined, { Origin: "https://evil.example" });
    expect(foreign.res.status).toBe(403);
    expect(await foreign.res.json()).toMatchObject({ error: "origin_not_allowed" });
    for (const from of ["abc", "-1", "1.5", "4294967296", "99999999999"]) {
      const bad = await liveSocket(from);
      expect(bad.res.status, from).toBe(400);
      expect(await bad.res.json()).toMatchObject({ error: "bad_query" });
    }
    const post = await SELF.fetch(`${BASE}/ws/live`, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
  });

  it("counts against the socket caps per identity, apart from the edge sockets", async () => {
    await api("PATCH", "/api/admin/limits", { body: { socketsPerIdentity: 3 } });
    try {
      const session = await SELF.fetch(`${BASE}/api/session`);
      const cookie = (session.headers.get("Set-Cookie") ?? "").split(";")[0] ?? "";
      const held = [];
      for (let i = 0; i < 3; i++) {
        const ok = await liveSocket(undefined, { Cookie: cookie });
        expect(ok.res.status).toBe(101);
        held.push(ok);
      }
      const over = await liveSocket(undefined, { Cookie: cookie });
      expect(over.res.status).toBe(429);
      expect(await over.res.json()).toMatchObject({ error: "too_many_sockets" });
      // The edge sockets have a count of their own: this identity may still connect.
      const client = await connect({ cookie, live: false });
      expect(client.hello.seq).toBeGreaterThanOrEqual(0);
      // A closed live socket frees its place.
      held[0]?.ws?.close(1000, "done");
      await until(async () => (await liveSocket(undefined, { Cookie: cookie })).res.status === 101);
    } finally {
      await api("DELETE", "/api/admin/limits");
    }
  });

  it("meters opens per network: past the burst, 429 rate_limited with Retry-After; another network is unaffected", async () => {
    // This tier turns the meter off (every test client is one network); here the edge app runs with it on.
    const perSecond = 2;
    const metered = { ...env, LIVE_OPENS_PER_NETWORK_PER_SECOND: String(perSecond) };
    const open = (ip: string) =>
      app.request(`${BASE}/ws/live`, { headers: { Upgrade: "websocket", "CF-Connecting-IP": ip } }, metered);
    // The clock stands still, so nothing refills while the burst is spent.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now());
    try {
      for (let i = 0; i < perSecond * LIVE_OPEN_BURST_FACTOR; i++) {
        const res = await open("198.51.100.7");
        expect(res.status, `open ${i}`).toBe(101);
        res.webSocket?.accept();
        res.webSocket?.close(1000, "done");
      }
      const refused = await open("198.51.100.7");
      expect(refused.status).toBe(429);
      expect(refused.headers.get("Retry-After")).toMatch(/^\d+$/);
      expect(await refused.json()).toMatchObject({ error: "rate_limited" });
      const other = await open("198.51.100.8");
      expect(other.status).toBe(101);
      other.webSocket?.accept();
      other.webSocket?.close(1000, "done");
    } finally {
      vi.useRealTimers();
    }
  });

  it("is counted in the stats, apart from the edge channels", async () => {
    const before = await stub().stats();
    const a = await connect();
    await until(async () => (await stub().stats()).liveSockets === before.liveSockets + 1);
    const edgeOnly = await connect({ live: false });
    const during = await stub().stats();
    expect(during.liveSockets).toBe(before.liveSockets + 1);
    expect(during.channels).toBe(before.channels + 2);
    a.close();
    edgeOnly.close();
    await until(async () => (await stub().stats()).liveSockets === before.liveSockets);
  });

  it("a channel straight to the canvas gets no broadcast: the edge socket is not in it", async () => {
    const channel = await canvasChannel({ isolate: "iso-x", identity: "id-x", network: "net-x", session: 1 });
    const ops: number[] = [];
    channel.addEventListener("message", (event) => ops.push(new Uint8Array(event.data as ArrayBuffer)[0] ?? 0));
    const a = await connect();
    await placeAndSee(a, 60, 70);
    await sleep(100);
    expect(ops).not.toContain(Op.Pixels);
    channel.close(1000, "done");
  });
});
