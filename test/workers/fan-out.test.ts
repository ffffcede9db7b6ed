/**
 * The canvas's side of shared broadcasts [P19], on raw channels as an edge session opens them: of an
 * isolate's sharing channels exactly one (its lead) is sent each broadcast, wrapped; when the lead
 * closes the next takes over and is sent the current totals; channels that do not share get every
 * broadcast themselves. (Sessions sharing through the isolate's bus are tested on `wrangler dev`,
 * test/e2e/fan-out.test.ts.)
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { CANVAS_NAME } from "../../worker/canvas/canvas-object.ts";
import {
  encodePlace,
  Op,
  type PixelsFrame,
  type Unwrapped,
  unwrapPresenceUpdate,
  unwrapShared,
} from "../../worker/protocol.ts";
import { sleep, TestClient } from "./client.ts";

const isPixels = (m: { op: number }): m is PixelsFrame => m.op === Op.Pixels;
const stub = () => env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));

interface Channel {
  ws: WebSocket;
  /** Shared broadcasts received, unwrapped. */
  shared: Unwrapped[];
  /** Bare client frames received (first byte): what a channel that does not share is sent. */
  bare: number[];
  /** PresenceUpdates sent to this channel alone. */
  updates: Unwrapped[];
}

const channels: Channel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) c.ws.close(1000, "done");
});

async function channel(isolate: string, session: number, fanout = true): Promise<Channel> {
  const url = `https://canvas/channel?isolate=${isolate}&region=test&identity=id-${isolate}-${session}&network=n&session=${session}${fanout ? "&fanout=1" : ""}`;
  const res = await stub().fetch(url, { headers: { Upgrade: "websocket" } });
  const ws = res.webSocket;
  if (!ws) throw new Error(`channel refused: ${res.status}`);
  ws.binaryType = "arraybuffer";
  const c: Channel = { ws, shared: [], bare: [], updates: [] };
  ws.addEventListener("message", (event) => {
    const data = event.data as ArrayBuffer;
    const op = new Uint8Array(data)[0] ?? 0;
    if (op === Op.Shared) {
      const m = unwrapShared(data);
      if (m) c.shared.push(m);
    } else if (op === Op.PresenceUpdate) {
      const m = unwrapPresenceUpdate(data);
      if (m) c.updates.push(m);
    } else c.bare.push(op);
  });
  ws.accept();
  channels.push(c);
  return c;
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
}

const sharedPixels = (c: Channel) =>
  c.shared.filter((m) => m.kind === "pixels").map((m) => (m.kind === "pixels" ? m.seq : 0));

describe("[P19] shared broadcasts at the canvas", () => {
  it("one channel per sharing isolate gets each frame, wrapped; the others none; a solo channel gets it bare", async () => {
    const a1 = await channel("share-a", 1);
    const a2 = await channel("share-a", 2);
    const b1 = await channel("share-b", 1);
    const solo = await channel("solo-c", 1, false);
    // Each sharing channel hears the totals at open, versioned, on its own; the solo one bare.
    await until(() => [a1, a2, b1].every((c) => c.updates.length > 0) && solo.bare.includes(Op.Presence));
    for (const c of [a1, a2, b1]) expect(c.updates.map((u) => u.kind)).toEqual(["presence"]);
    expect(solo.updates).toEqual([]);

    const placer = await TestClient.connect();
    placer.send(encodePlace(1, [{ x: 5, y: 60, colour: 4 }]));
    const seq = (await placer.next(isPixels)).seq;
    await until(() => sharedPixels(a1).includes(seq) && sharedPixels(b1).includes(seq));
    await until(() => solo.bare.includes(Op.Pixels));
    await sleep(50);
    expect(sharedPixels(a1).filter((s) => s === seq)).toHaveLength(1);
    expect(sharedPixels(a2)).toEqual([]);
    expect(a2.bare).not.toContain(Op.Pixels);
    expect(solo.shared).toEqual([]);
    placer.close();
  });

  it("when an isolate's lead closes, the next channel takes over: it is sent the totals, then every frame", async () => {
    const lead = await channel("share-d", 1);
    const next = await channel("share-d", 2);
    const third = await channel("share-d", 3);
    const placer = await TestClient.connect();
    lead.ws.close(1000, "session over");
    // The new lead is sent the current totals straight away, newer than or as new as the ones at open.
    await until(
      () => next.shared.some((m) => m.kind === "presence") || third.shared.some((m) => m.kind === "presence"),
    );
    const [taker, idle] = next.shared.length > 0 ? [next, third] : [third, next];
    const update = taker.shared.find((m) => m.kind === "presence");
    const atOpen = taker.updates[0];
    expect(update?.kind === "presence" && atOpen?.kind === "presence" && update.version >= atOpen.version).toBe(true);

    placer.send(encodePlace(2, [{ x: 6, y: 60, colour: 4 }]));
    const seq = (await placer.next(isPixels)).seq;
    await until(() => sharedPixels(taker).includes(seq));
    await sleep(50);
    expect(sharedPixels(idle)).toEqual([]);
    placer.close();
  });

  it("the canvas counts one send per isolate per frame", async () => {
    const channelsOfE = await Promise.all([1, 2, 3, 4, 5].map((s) => channel("share-e", s)));
    const placer = await TestClient.connect();
    await sleep(200); // presence settles
    const before = await stub().stats();
    const targets = 1 + before.presence.observed - channelsOfE.length; // share-e's lead and each channel that does not share
    placer.send(encodePlace(3, [{ x: 7, y: 60, colour: 4 }]));
    await placer.next((m) => m.op === Op.Pixels);
    await sleep(100);
    const after = await stub().stats();
    const frames = after.framesBroadcast - before.framesBroadcast;
    expect(frames).toBe(1);
    expect(after.broadcastSends - before.broadcastSends).toBe(targets);
    placer.close();
  });
});
