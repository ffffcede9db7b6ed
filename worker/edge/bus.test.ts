import { describe, expect, it } from "vitest";
import {
  encodePixels,
  encodePresence,
  encodePresenceUpdate,
  encodeShared,
  Op,
  type Unwrapped,
  unwrapPresenceUpdate,
  unwrapShared,
} from "../protocol.ts";
import { BroadcastBus } from "./bus.ts";

/** The bytes of a frame as the socket hands them over. */
const ab = (bytes: Uint8Array): ArrayBuffer => new Uint8Array(bytes).buffer;

function pixels(seq: number): Unwrapped {
  const message = unwrapShared(ab(encodeShared(encodePixels(seq, [{ x: seq % 100, y: 1, colour: 2 }]))));
  if (!message) throw new Error("not a shared frame");
  return message;
}

function presence(version: number, total: number): Unwrapped {
  const message = unwrapShared(
    ab(encodeShared(encodePresenceUpdate(version, encodePresence(total, [{ region: "eu", count: total }])))),
  );
  if (!message) throw new Error("not a shared frame");
  return message;
}

const seqs = (entries: Unwrapped[]) => entries.map((e) => (e.kind === "pixels" ? e.seq : -e.version));

describe("Shared and PresenceUpdate frames [P19]", () => {
  it("unwrap to the exact client frame inside, with its order", () => {
    const frame = encodePixels(42, [{ x: 3, y: 4, colour: 5 }]);
    const shared = unwrapShared(ab(encodeShared(frame)));
    expect(shared).toMatchObject({ kind: "pixels", seq: 42 });
    expect(new Uint8Array(shared?.frame ?? new ArrayBuffer(0))).toEqual(frame);

    const totals = encodePresence(7, [{ region: "us", count: 7 }]);
    const direct = unwrapPresenceUpdate(ab(encodePresenceUpdate(9, totals)));
    expect(direct).toMatchObject({ kind: "presence", version: 9 });
    expect(new Uint8Array(direct?.frame ?? new ArrayBuffer(0))).toEqual(totals);
    expect(unwrapShared(ab(encodeShared(encodePresenceUpdate(9, totals))))).toMatchObject({ version: 9 });
  });

  it("refuse what is not one: other opcodes, truncated frames, a Shared frame holding something else", () => {
    expect(unwrapShared(ab(encodePixels(1, [])))).toBeUndefined();
    expect(unwrapShared(ab(Uint8Array.of(Op.Shared)))).toBeUndefined();
    expect(unwrapShared(ab(Uint8Array.of(Op.Shared, Op.Pixels, 0, 0)))).toBeUndefined();
    expect(unwrapShared(ab(Uint8Array.of(Op.Shared, Op.Error, 1, 2, 3, 4, 5)))).toBeUndefined();
    expect(unwrapPresenceUpdate(ab(Uint8Array.of(Op.PresenceUpdate, 0, 0, 0, 1)))).toBeUndefined();
    expect(unwrapPresenceUpdate(ab(Uint8Array.of(Op.PresenceUpdate, 0, 0, 0, 1, Op.Pixels)))).toBeUndefined();
  });
});

describe("BroadcastBus", () => {
  it("wakes every waiting session once per publish, and each reads what is new since it last looked", async () => {
    const bus = new BroadcastBus();
    const woke: number[] = [];
    const a = bus.wait(1).then(() => woke.push(1));
    const b = bus.wait(2).then(() => woke.push(2));
    expect(bus.waiting).toBe(2);
    expect(bus.publish(pixels(1))).toBe(true);
    await Promise.all([a, b]);
    expect(woke.sort()).toEqual([1, 2]);
    expect(bus.waiting).toBe(0);
    bus.publish(pixels(2));
    bus.publish(presence(1, 5));
    expect(seqs(bus.since(1))).toEqual([2, -1]);
    expect(seqs(bus.since(0))).toEqual([1, 2, -1]);
    expect(bus.since(bus.latestIndex)).toEqual([]);
  });

  it("drops a frame published twice (two channels of the isolate carried it) and stale presence", () => {
    const bus = new BroadcastBus();
    expect(bus.publish(pixels(5))).toBe(true);
    expect(bus.publish(pixels(5))).toBe(false);
    expect(bus.publish(pixels(4))).toBe(false);
    expect(bus.publish(presence(3, 10))).toBe(true);
    expect(bus.publish(presence(3, 10))).toBe(false);
    expect(bus.publish(presence(2, 9))).toBe(false);
    expect(seqs(bus.since(0))).toEqual([5, -3]);
    expect(bus.latestSeq).toBe(5);
  });

  it("a joining session gets the frames after its hello's sequence and the newest totals", () => {
    const bus = new BroadcastBus();
    for (let seq = 1; seq <= 4; seq++) bus.publish(pixels(seq));
    bus.publish(presence(1, 3));
    bus.publish(pixels(5));
    bus.publish(presence(2, 4));
    const joined = bus.join(3);
    expect(seqs(joined.entries)).toEqual([4, 5, -2]);
    expect(joined.index).toBe(bus.latestIndex);
    expect(bus.join(5).entries.map((e) => e.kind)).toEqual(["presence"]);
  });

  it("keeps a bounded ring: a session far behind reads only what is left (its client sees a gap)", () => {
    const bus = new BroadcastBus(4);
    for (let seq = 1; seq <= 10; seq++) bus.publish(pixels(seq));
    expect(seqs(bus.since(0))).toEqual([7, 8, 9, 10]);
    expect(seqs(bus.since(8))).toEqual([9, 10]);
  });

  it("leave ends a session's wait at once, and a second wait replaces the first", async () => {
    const bus = new BroadcastBus();
    let first = false;
    const p1 = bus.wait(7).then(() => {
      first = true;
    });
    const p2 = bus.wait(7);
    await p1;
    expect(first).toBe(true);
    expect(bus.waiting).toBe(1);
    bus.leave(7);
    await p2;
    expect(bus.waiting).toBe(0);
  });
});
