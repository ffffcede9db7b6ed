/**
 * Shared broadcasts [P19] on the real local stack (`wrangler dev`, one edge isolate): the canvas
 * sends each broadcast once to the isolate, not once per client, yet every client gets every frame,
 * through its channel to the canvas closing (the isolate's next channel takes over) and through
 * clients coming and going.
 */

import { afterAll, beforeAll, expect, it } from "vitest";
import type WebSocket from "ws";
import { openSocket } from "../../loadtest/client.ts";
import { type Stack, startStack } from "../../loadtest/stack.ts";
import { decodeServerMessage, encodeClientHello, encodePlace, Op } from "../../worker/protocol.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

interface Watcher {
  ws: WebSocket;
  /** Sequence numbers of the Pixels frames received, in order. */
  seqs: number[];
  /** The newest presence total shown. */
  online: number;
}

async function watcher(): Promise<Watcher> {
  const { ws, hello } = await openSocket(stack.wsUrl);
  const w: Watcher = { ws, seqs: [], online: hello.online };
  ws.on("message", (data: ArrayBuffer) => {
    const m = decodeServerMessage(data, {
      width: hello.width,
      height: hello.height,
      paletteSize: hello.palette.length,
    });
    if (!m.ok) return;
    if (m.value.op === Op.Pixels) w.seqs.push(m.value.seq);
    if (m.value.op === Op.Presence) w.online = m.value.total;
  });
  ws.send(encodeClientHello(hello.seq));
  return w;
}

type CanvasCounters = { framesBroadcast: number; broadcastSends: number; seq: number };
async function counters(): Promise<CanvasCounters> {
  const body = (await (await fetch(`${stack.url}/api/stats`)).json()) as { canvas: CanvasCounters };
  return body.canvas;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(25);
  }
}

/** Places `n` pixels from `from`, one per 60 ms (each its own broadcast), on row `y`. */
async function place(from: Watcher, n: number, y: number, nonce: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    from.ws.send(encodePlace(nonce + i, [{ x: i, y, colour: 3 }]));
    await sleep(60);
  }
}

/** True when every watcher has received exactly the frames (from, to], in order. */
function everyoneHas(watchers: Watcher[], from: number, to: number): boolean {
  return watchers.every((w) => {
    const got = w.seqs.filter((s) => s > from);
    return got.length === to - from && got.every((s, i) => s === from + 1 + i);
  });
}

it("20 clients on one isolate: each frame is sent once by the canvas and received by all 20", async () => {
  const watchers: Watcher[] = [];
  for (let i = 0; i < 20; i++) watchers.push(await watcher());
  await until(() => watchers.every((w) => w.online === 20));
  await sleep(300); // the last presence broadcast has gone out
  const before = await counters();
  await place(watchers[0] as Watcher, 10, 1, 1);
  await until(async () => (await counters()).seq >= before.seq + 10);
  await until(() => everyoneHas(watchers, before.seq, before.seq + 10));
  const after = await counters();
  const frames = after.framesBroadcast - before.framesBroadcast;
  expect(frames).toBeGreaterThanOrEqual(1);
  // One send per frame for the whole isolate; one per client would be 20 per frame.
  expect(after.broadcastSends - before.broadcastSends).toBe(frames);

  // The first client's channel was the isolate's lead: it leaves, the next channel takes over.
  const [first, ...rest] = watchers;
  first?.ws.close();
  await until(() => rest.every((w) => w.online === 19));
  const middle = await counters();
  await place(rest[0] as Watcher, 10, 2, 100);
  await until(() => everyoneHas(rest, middle.seq, middle.seq + 10));

  // Half leave at once and five join: the rest and the newcomers miss nothing from here on.
  for (const w of rest.slice(0, 9)) w.ws.close();
  const stayed = rest.slice(9);
  const joined: Watcher[] = [];
  for (let i = 0; i < 5; i++) joined.push(await watcher());
  const late = await counters();
  await place(stayed[0] as Watcher, 10, 3, 200);
  await until(() => everyoneHas([...stayed, ...joined], late.seq, late.seq + 10));
  await until(() => [...stayed, ...joined].every((w) => w.online === 15));
  for (const w of [...stayed, ...joined]) w.ws.close();
}, 60_000);
