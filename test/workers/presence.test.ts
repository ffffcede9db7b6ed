/**
 * Presence [P16]: every edge isolate reports its socket count; the canvas sums the newest live report
 * per isolate into exact totals, per region too, ignores late reports, and expires silent isolates.
 *
 * Real sockets go through the Worker (one isolate in this runtime); further isolates are simulated by
 * opening canvas channels directly with their own isolate ids and sending their reports, exactly as
 * an edge does.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CANVAS_NAME, type CanvasStats } from "../../worker/canvas/canvas-object.ts";
import { encodePresenceReport, Op, type Presence } from "../../worker/protocol.ts";
import { canvasChannel, sleep, TestClient, until } from "./client.ts";

const isPresence = (m: { op: number }): m is Presence => m.op === Op.Presence;
const stub = () => env.CANVAS.get(env.CANVAS.idFromName(CANVAS_NAME));

/** A simulated edge isolate: one channel to the canvas, reporting whatever count it is told. */
async function fakeIsolate(isolateId: string, region: string) {
  const ws = await canvasChannel({
    isolate: isolateId,
    region,
    identity: `edge-${isolateId}`,
    network: "test",
    session: 1,
  });
  let seq = 0;
  return {
    report(count: number, reportSeq = ++seq) {
      ws.send(encodePresenceReport(count, reportSeq));
    },
    close() {
      ws.close(1000, "done");
    },
  };
}

async function stats(): Promise<CanvasStats> {
  return stub().stats();
}

/** Waits until the watcher has been told `total` (and, if given, these regions), within `ms`. */
async function seesTotal(watcher: TestClient, total: number, ms = 2000): Promise<Presence> {
  const deadline = Date.now() + ms;
  for (;;) {
    const latest = watcher.messages.filter(isPresence).at(-1);
    if (latest?.total === total) return latest;
    if (Date.now() > deadline) throw new Error(`presence total ${latest?.total} never became ${total}`);
    await sleep(20);
  }
}

describe("[P16] presence", () => {
  it("after 200 opens and 100 random closes the total converges to the open sockets within 2 s", async () => {
    const watcher = await TestClient.connect();
    const clients: TestClient[] = [];
    for (let batch = 0; batch < 10; batch++) {
      clients.push(...(await Promise.all(Array.from({ length: 20 }, () => TestClient.connect()))));
    }
    // Close 100 chosen at random, in a burst.
    const order = clients.map((c, i) => ({ c, k: (i * 7919) % 200 })).sort((a, b) => a.k - b.k);
    for (const { c } of order.slice(0, 100)) c.close();
    const open = 1 + 100; // the watcher and the survivors
    const settled = Date.now();
    const presence = await seesTotal(watcher, open, 2000);
    expect(Date.now() - settled).toBeLessThan(2000);
    expect(presence.regions).toEqual([{ region: "test", count: open }]);
    // The isolate's report and the canvas's own count of its channels agree.
    const s = await stats();
    const self = s.presence.isolates.find((i) => i.region === "test" && i.reported === open);
    expect(self).toMatchObject({ reported: open, observed: open });
    // Each connection's live socket too [P19]: one per open connection, none left by the closed.
    await until(async () => (await stats()).presence.live === open);
    for (const { c } of order.slice(100)) c.close();
    watcher.close();
    // 400 upgrades through this pool take several seconds; the convergence bound is the 2 s above.
  }, 30_000);

  it("sums several isolates per region, exactly, and a new client's hello carries the total", async () => {
    const watcher = await TestClient.connect();
    await seesTotal(watcher, 1);
    const a = await fakeIsolate("iso-a", "eu-west");
    const b = await fakeIsolate("iso-b", "eu-west");
    const c = await fakeIsolate("iso-c", "us-east");
    // Bursts of changes; only the newest report of each isolate counts.
    for (let i = 0; i < 30; i++) {
      a.report(i % 7);
      b.report((i * 3) % 5);
      c.report(i);
    }
    a.report(12);
    b.report(30);
    c.report(8);
    const presence = await seesTotal(watcher, 1 + 12 + 30 + 8);
    expect(presence.regions).toEqual([
      { region: "eu-west", count: 42 },
      { region: "test", count: 1 },
      { region: "us-east", count: 8 },
    ]);
    const late = await TestClient.connect();
    expect(late.hello.online).toBe(51);
    late.close();
    for (const f of [a, b, c]) {
      f.report(0);
      f.close();
    }
    await seesTotal(watcher, 1);
    watcher.close();
  });

  it("ignores a report older than the one it holds", async () => {
    const watcher = await TestClient.connect();
    await seesTotal(watcher, 1);
    const a = await fakeIsolate("iso-late", "ap-south");
    a.report(10, 5);
    await seesTotal(watcher, 11);
    a.report(99, 4); // sent after, numbered before: a late arrival
    a.report(99, 5); // a duplicate number
    await sleep(400);
    const entry = (await stats()).presence.isolates.find((i) => i.isolateId === "iso-late");
    expect(entry).toMatchObject({ reported: 10, reportSeq: 5 });
    expect(watcher.messages.filter(isPresence).at(-1)?.total).toBe(11);
    a.report(0, 6);
    a.close();
    await seesTotal(watcher, 1);
    watcher.close();
  });

  it("forgets an isolate that stops reporting, within the expiry window, by alarm", async () => {
    const watcher = await TestClient.connect();
    await seesTotal(watcher, 1);
    const dead = await fakeIsolate("iso-dead", "sa-east");
    const silentFrom = Date.now();
    dead.report(25);
    await seesTotal(watcher, 26);
    // No goodbye: the isolate just stops. Expiry is 3 × 300 ms heartbeats in this configuration.
    await seesTotal(watcher, 1, 3000);
    // Not before the window (900 ms from its last report), and well within the 3 s allowed above.
    expect(Date.now() - silentFrom).toBeGreaterThanOrEqual(880);
    // Its report is gone; the canvas still lists the channel it holds, as observed but unreported.
    const entry = (await stats()).presence.isolates.find((i) => i.isolateId === "iso-dead");
    expect(entry).toMatchObject({ reported: undefined, observed: 1 });
    dead.close();
    watcher.close();
  });

  it("keeps a live isolate alive with heartbeats while nothing changes", async () => {
    const watcher = await TestClient.connect();
    await seesTotal(watcher, 1);
    await sleep(2000); // more than twice the expiry window
    expect((await stats()).presence.total).toBe(1);
    expect(watcher.messages.filter(isPresence).at(-1)?.total).toBe(1);
    watcher.close();
  });
});
