/**
 * @module fuzz
 * A live fuzz run against the real local stack: hostile connections send tens of thousands of
 * random and mutated frames (empty, truncated, oversized, unknown opcodes, wrong versions, text,
 * out-of-range pixels, floods) while well-behaved clients draw. Afterwards every well-behaved client
 * must have seen every pixel that was placed and hold exactly the server's canvas, and the canvas
 * must still answer. Hostile sockets that get closed (floods, version mismatches) reconnect and go on.
 * Some attackers aim at the live socket [P19] instead, which only receives: each opens it (with a
 * random `from`, sometimes not a number), sends hostile frames, is closed, and opens it again.
 *
 * `npm run fuzz [-- --frames N]` starts its own stack; the end-to-end tier runs a smaller round.
 */
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { prng } from "../test/support/random.ts";
import { encodeCatchUp, encodeClientHello, encodePlace, PROTOCOL_VERSION } from "../worker/protocol.ts";
import { fetchSnapshot, LoadClient, liveUrlOf, newLedger, pixelOf, type Target } from "./client.ts";
import { startStack } from "./stack.ts";

export interface FuzzResult {
  hostileFrames: number;
  hostileReconnects: number;
  /** Live-socket attackers: frames sent on live sockets, opens, and opens the edge refused. */
  liveFrames: number;
  liveOpens: number;
  liveRefused: number;
  goodPlacements: number;
  /** Good clients that saw every good placement. */
  completeClients: number;
  goodClients: number;
  /** Good clients that had applied every frame up to the snapshot's sequence, in order. */
  caughtUpClients: number;
  canvasAnswers: boolean;
}

/** One random hostile frame: noise, or a valid frame cut, padded, or with bytes flipped. */
export function hostileFrame(random: () => number): Uint8Array | string {
  const pick = Math.floor(random() * 10);
  const rand = (n: number) => Math.floor(random() * n);
  const valid = [
    // Coordinates from row 500 down (and past the edge): the well-behaved clients draw in rows 0–1,
    // so a fuzz frame that happens to be valid never overwrites a pixel the check looks for.
    encodePlace(rand(1e6), [{ x: rand(70_000), y: 500 + rand(70_000), colour: rand(256) }]),
    encodePlace(
      rand(1e6),
      Array.from({ length: 1 + rand(300) }, () => ({ x: rand(1100), y: 500 + rand(600), colour: rand(40) })),
    ),
    encodeCatchUp(rand(2 ** 32)),
    encodeClientHello(rand(2 ** 32), rand(3) === 0 ? PROTOCOL_VERSION + 1 : PROTOCOL_VERSION),
  ][rand(4)] as Uint8Array;
  switch (pick) {
    case 0:
      return "text where binary belongs";
    case 1:
      return new Uint8Array(0);
    case 2:
      return Uint8Array.from({ length: rand(40) }, () => rand(256));
    case 3:
      return new Uint8Array(2000 + rand(5000)).fill(rand(256)); // oversized
    case 4:
      return valid.subarray(0, rand(valid.length)); // truncated
    case 5: {
      const padded = new Uint8Array(valid.length + 1 + rand(10));
      padded.set(valid);
      return padded;
    }
    default: {
      const flipped = valid.slice();
      for (let i = 0; i < 1 + rand(3); i++) flipped[rand(flipped.length)] = rand(256);
      return flipped;
    }
  }
}

/** A hostile connection: sends `frames` hostile frames, reconnecting whenever the server closes it. */
async function hostile(wsUrl: string, frames: number, seed: number): Promise<{ sent: number; reconnects: number }> {
  const random = prng(seed);
  let sent = 0;
  let reconnects = -1;
  while (sent < frames) {
    reconnects++;
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    await new Promise<void>((resolve) => {
      ws.once("open", () => resolve());
      ws.once("error", () => resolve());
    });
    if (ws.readyState !== WebSocket.OPEN) continue;
    // Half the time say hello first, so frames reach the decoder past the hello rule.
    if (random() < 0.5) ws.send(encodeClientHello());
    while (sent < frames && ws.readyState === WebSocket.OPEN) {
      ws.send(hostileFrame(random));
      sent++;
      if (sent % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    ws.terminate();
  }
  return { sent, reconnects };
}

/**
 * A hostile client of the live socket: opens it (a random `from`, or none, or one that is not a
 * number), sends hostile frames until the canvas closes it, and opens it again, until it has sent
 * `frames`. Refused opens (400 for a bad `from`) count as attempts.
 */
async function hostileLive(
  liveUrl: string,
  frames: number,
  seed: number,
): Promise<{ sent: number; opens: number; refused: number }> {
  const random = prng(seed);
  let sent = 0;
  let opens = 0;
  let refused = 0;
  for (let attempts = 0; sent < frames && attempts < frames; attempts++) {
    const pick = random();
    const from = pick < 0.15 ? "?from=-1" : pick < 0.4 ? "" : `?from=${Math.floor(random() * 0x100000000)}`;
    const ws = new WebSocket(`${liveUrl}${from}`, { perMessageDeflate: false });
    const opened = await new Promise<boolean>((resolve) => {
      ws.once("open", () => resolve(true));
      ws.once("error", () => resolve(false));
    });
    if (!opened) {
      refused++;
      continue;
    }
    opens++;
    while (sent < frames && ws.readyState === WebSocket.OPEN) {
      ws.send(hostileFrame(random));
      sent++;
      if (sent % 50 === 0) await new Promise((r) => setTimeout(r, 5));
      // The canvas closes it at the first frame; give the close a moment to arrive.
      await new Promise((r) => setTimeout(r, 1));
    }
    ws.terminate();
  }
  return { sent, opens, refused };
}

export async function runFuzz(options: {
  wsUrl: string;
  httpUrl: string;
  hostileConnections: number;
  framesEach: number;
  goodClients: number;
  pixelsEach: number;
  /** Live-socket attackers, and the frames each sends (default: none). */
  liveConnections?: number;
  liveFramesEach?: number;
}): Promise<FuzzResult> {
  const targets: Target[] = [{ name: "local", wsUrl: options.wsUrl, liveUrl: liveUrlOf(options.wsUrl), alive: true }];
  const total = options.goodClients * options.pixelsEach;
  const ledger = newLedger(1000, total);
  const good = Array.from(
    { length: options.goodClients },
    (_, i) => new LoadClient(i, targets[0] as Target, targets, ledger, { latency: () => {} }),
  );
  await Promise.all(good.map((c) => c.connect()));
  const attack = Promise.all(
    Array.from({ length: options.hostileConnections }, (_, i) => hostile(options.wsUrl, options.framesEach, 1000 + i)),
  );
  const liveAttack = Promise.all(
    Array.from({ length: options.liveConnections ?? 0 }, (_, i) =>
      hostileLive(liveUrlOf(options.wsUrl), options.liveFramesEach ?? 0, 2000 + i),
    ),
  );
  // Good clients draw while the attack runs.
  for (let i = 0; i < total; i++) {
    good[i % good.length]?.place(i);
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 20));
  }
  const attacks = await attack;
  const liveAttacks = await liveAttack;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && good.some((c) => c.received < total)) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500)); // let any valid fuzz placement in flight land too

  // The canvas must hold every good pixel, and every good client must have applied every frame.
  await new Promise((r) => setTimeout(r, 1100)); // past the snapshot cache
  const snapshot = (await fetchSnapshot(options.httpUrl, 32)).decoded;
  const health = await fetch(`${options.httpUrl}/api/health`);
  const caughtUp = snapshot.ok ? good.filter((c) => c.seq === snapshot.value.seq).length : 0;
  let goodOnCanvas = 0;
  if (snapshot.ok) {
    for (let i = 0; i < total; i++) {
      const p = pixelOf(i, 1000, 32);
      if (snapshot.value.pixels[p.y * 1000 + p.x] === p.colour) goodOnCanvas++;
    }
  }
  for (const c of good) c.close();
  return {
    hostileFrames: attacks.reduce((a, r) => a + r.sent, 0),
    hostileReconnects: attacks.reduce((a, r) => a + r.reconnects, 0),
    liveFrames: liveAttacks.reduce((a, r) => a + r.sent, 0),
    liveOpens: liveAttacks.reduce((a, r) => a + r.opens, 0),
    liveRefused: liveAttacks.reduce((a, r) => a + r.refused, 0),
    goodPlacements: goodOnCanvas,
    completeClients: good.filter((c) => c.received >= total && c.phantom === 0).length,
    goodClients: good.length,
    caughtUpClients: caughtUp,
    canvasAnswers: health.ok,
  };
}

// CLI: `npm run fuzz`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { frames: { type: "string", default: "50000" } } });
  const frames = Number(values.frames);
  const stack = await startStack({ vars: { RATE_LIMIT_FRAMES_PER_SECOND: "500", RATE_LIMIT_PIXEL_BURST: "300" } });
  try {
    const result = await runFuzz({
      wsUrl: stack.wsUrl,
      httpUrl: stack.url,
      hostileConnections: 10,
      framesEach: Math.ceil(frames / 10),
      goodClients: 5,
      pixelsEach: 100,
      liveConnections: 4,
      liveFramesEach: 500,
    });
    console.log(result);
    const pass =
      result.completeClients === result.goodClients &&
      result.goodPlacements === result.goodClients * 100 &&
      result.caughtUpClients === result.goodClients &&
      result.canvasAnswers;
    console.log(pass ? "PASS" : "FAIL");
    process.exitCode = pass ? 0 : 1;
  } finally {
    await stack.stop();
  }
}
