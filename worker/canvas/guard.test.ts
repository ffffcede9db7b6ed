/**
 * Tests of the canvas's admission rules (guard.ts): freeze, bans, the per-identity and per-network
 * token buckets (what they refuse, with which code and retry time, and that a refusal spends
 * nothing), live changes of the limits, socket caps, and the sweep that keeps KeyedBuckets bounded.
 * Time is passed in; nothing sleeps. Runs in Node.
 */
import { describe, expect, it } from "vitest";
import type { Limits } from "../limits.ts";
import { ErrorCode } from "../protocol.ts";
import { Guard, KeyedBuckets, type Origin, type Refusal } from "./guard.ts";

const T0 = 1_700_000_000_000;

/** Identity: 20 pixels at once, 10 a second. Network limits and socket caps off unless a test turns them on. */
const LIMITS: Limits = {
  pixelsPerSecond: 10,
  pixelBurst: 20,
  networkPixelsPerSecond: 0,
  networkPixelBurst: 0,
  socketsPerIdentity: 0,
  socketsPerNetwork: 0,
  frozen: false,
};

const ALICE: Origin = { identity: "alice-identity-000000A", network: "1.2.3.4" };
const BOB: Origin = { identity: "bob-identity-00000000B", network: "1.2.3.4" };
const CAROL: Origin = { identity: "carol-identity-00000C", network: "2001:db8:0:1::/64" };

function guardWith(overrides: Partial<Limits> = {}): Guard {
  return new Guard({ ...LIMITS, ...overrides });
}

function refusal(result: Refusal | undefined): Refusal {
  if (!result) throw new Error("expected a refusal, the placement was admitted");
  return result;
}

describe("Guard.admitPlacement", () => {
  describe("freeze", () => {
    it("refuses every placement with Frozen while frozen, and admits again when unfrozen", () => {
      const guard = guardWith({ frozen: true });
      for (const origin of [ALICE, BOB, CAROL]) {
        expect(refusal(guard.admitPlacement(origin, 1, T0))).toMatchObject({ code: ErrorCode.Frozen, retryAfterMs: 0 });
      }
      guard.limits = { ...guard.limits, frozen: false };
      expect(guard.admitPlacement(ALICE, 1, T0)).toBeUndefined();
    });

    it("a frozen refusal spends nothing", () => {
      const guard = guardWith({ frozen: true });
      for (let i = 0; i < 10; i++) guard.admitPlacement(ALICE, 20, T0);
      guard.limits = { ...guard.limits, frozen: false };
      expect(guard.admitPlacement(ALICE, 20, T0)).toBeUndefined();
    });

    it("freeze wins over a ban", () => {
      const guard = guardWith({ frozen: true });
      guard.setBanned(ALICE.identity, true);
      expect(refusal(guard.admitPlacement(ALICE, 1, T0)).code).toBe(ErrorCode.Frozen);
    });
  });

  describe("bans", () => {
    it("a banned identity is refused with Banned; others are not; unban lets it draw again", () => {
      const guard = guardWith();
      guard.setBanned(ALICE.identity, true);
      expect(guard.isBanned(ALICE.identity)).toBe(true);
      expect(guard.isBanned(BOB.identity)).toBe(false);
      expect(refusal(guard.admitPlacement(ALICE, 1, T0))).toMatchObject({ code: ErrorCode.Banned, retryAfterMs: 0 });
      // Bob shares Alice's network: a ban is of an identity, not of a network.
      expect(guard.admitPlacement(BOB, 1, T0)).toBeUndefined();

      guard.setBanned(ALICE.identity, false);
      expect(guard.isBanned(ALICE.identity)).toBe(false);
      expect(guard.admitPlacement(ALICE, 1, T0)).toBeUndefined();
    });

    it("banning twice and unbanning an identity never banned are harmless", () => {
      const guard = guardWith();
      guard.setBanned(ALICE.identity, true);
      guard.setBanned(ALICE.identity, true);
      guard.setBanned(BOB.identity, false);
      expect(refusal(guard.admitPlacement(ALICE, 1, T0)).code).toBe(ErrorCode.Banned);
      guard.setBanned(ALICE.identity, false);
      expect(guard.admitPlacement(ALICE, 1, T0)).toBeUndefined();
    });

    it("a banned refusal spends nothing", () => {
      const guard = guardWith();
      guard.setBanned(ALICE.identity, true);
      for (let i = 0; i < 10; i++) guard.admitPlacement(ALICE, 20, T0);
      guard.setBanned(ALICE.identity, false);
      expect(guard.admitPlacement(ALICE, 20, T0)).toBeUndefined();
    });
  });

  describe("the identity bucket", () => {
    it("[P11] admits the burst, then refuses with RateLimited and the time until the pixels are there", () => {
      const guard = guardWith();
      for (let i = 0; i < 20; i++) expect(guard.admitPlacement(ALICE, 1, T0), `pixel ${i}`).toBeUndefined();
      const limited = refusal(guard.admitPlacement(ALICE, 1, T0));
      expect(limited.code).toBe(ErrorCode.RateLimited);
      expect(limited.retryAfterMs).toBe(100); // one pixel at 10 a second
      expect(refusal(guard.admitPlacement(ALICE, 5, T0)).retryAfterMs).toBe(500);
      expect(refusal(guard.admitPlacement(ALICE, 20, T0)).retryAfterMs).toBe(2000);
    });

    it("[P11] refills over time: refused just before retryAfterMs, admitted at it", () => {
      const guard = guardWith();
      expect(guard.admitPlacement(ALICE, 20, T0)).toBeUndefined();
      const wait = refusal(guard.admitPlacement(ALICE, 5, T0)).retryAfterMs;
      expect(wait).toBe(500);
      expect(refusal(guard.admitPlacement(ALICE, 5, T0 + wait - 1)).code).toBe(ErrorCode.RateLimited);
      expect(guard.admitPlacement(ALICE, 5, T0 + wait)).toBeUndefined();
      // and after two idle seconds the whole burst is back, but no more
      expect(guard.admitPlacement(ALICE, 20, T0 + wait + 2000)).toBeUndefined();
      expect(refusal(guard.admitPlacement(ALICE, 1, T0 + wait + 2000)).code).toBe(ErrorCode.RateLimited);
    });

    it("[P11] retryAfterMs is rounded up to a whole millisecond", () => {
      const guard = guardWith({ pixelsPerSecond: 3, pixelBurst: 3 });
      expect(guard.admitPlacement(ALICE, 3, T0)).toBeUndefined();
      expect(refusal(guard.admitPlacement(ALICE, 1, T0)).retryAfterMs).toBe(334); // 333.3… ms
    });

    it("the rate message names the per-person rate", () => {
      const guard = guardWith();
      guard.admitPlacement(ALICE, 20, T0);
      expect(refusal(guard.admitPlacement(ALICE, 1, T0)).message).toContain("10 pixels per second per person");
    });

    it("each identity has its own bucket", () => {
      const guard = guardWith();
      expect(guard.admitPlacement(ALICE, 20, T0)).toBeUndefined();
      expect(guard.admitPlacement(BOB, 20, T0)).toBeUndefined();
      expect(guard.admitPlacement(CAROL, 20, T0)).toBeUndefined();
      expect(refusal(guard.admitPlacement(ALICE, 1, T0)).code).toBe(ErrorCode.RateLimited);
    });

    it("[P11] a placement bigger than the burst is TooLarge, on a fresh bucket and a used one, and spends nothing", () => {
      const guard = guardWith();
      expect(refusal(guard.admitPlacement(ALICE, 21, T0))).toMatchObject({ code: ErrorCode.TooLarge, retryAfterMs: 0 });
      expect(guard.admitPlacement(ALICE, 20, T0)).toBeUndefined();
      expect(refusal(guard.admitPlacement(ALICE, 21, T0 + 60_000)).code).toBe(ErrorCode.TooLarge);
      // the refused 21 took nothing: the refilled bucket still holds the whole burst
      expect(guard.admitPlacement(ALICE, 20, T0 + 60_000)).toBeUndefined();
    });
  });

  describe("the network bucket", () => {
    const NETWORK = { networkPixelsPerSecond: 30, networkPixelBurst: 30 };

    it("is shared by the identities of one network", () => {
      const guard = guardWith(NETWORK);
      expect(guard.admitPlacement(ALICE, 20, T0)).toBeUndefined();
      expect(guard.admitPlacement(BOB, 10, T0)).toBeUndefined();
      const limited = refusal(guard.admitPlacement(BOB, 1, T0));
      expect(limited.code).toBe(ErrorCode.RateLimited);
      expect(limited.message).toContain("per network");
      expect(limited.retryAfterMs).toBe(34); // one pixel at 30 a second, rounded up
    });

    it("is not shared across networks", () => {
      const guard = guardWith(NETWORK);
      expect(guard.admitPlacement(ALICE, 20, T0)).toBeUndefined();
      expect(guard.admitPlacement(BOB, 10, T0)).toBeUndefined();
      expect(guard.admitPlacement(CAROL, 20, T0)).toBeUndefined();
      const dave = { identity: "dave", network: "5.6.7.8" };
      expect(guard.admitPlacement(dave, 20, T0)).toBeUndefined();
    });

    it("refills at the network rate", () => {
      const guard = guardWith(NETWORK);
      guard.admitPlacement(ALICE, 20, T0);
      guard.admitPlacement(BOB, 10, T0);
      expect(refusal(guard.admitPlacement(BOB, 3, T0 + 99)).code).toBe(ErrorCode.RateLimited);
      expect(guard.admitPlacement(BOB, 3, T0 + 100)).toBeUndefined();
    });

    it("a rate or a burst of 0 turns the network limit off", () => {
      for (const off of [
        { networkPixelsPerSecond: 0, networkPixelBurst: 30 },
        { networkPixelsPerSecond: 30, networkPixelBurst: 0 },
      ]) {
        const guard = guardWith(off);
        for (let i = 0; i < 50; i++) {
          const origin = { identity: `identity-${i}`, network: "1.2.3.4" };
          expect(guard.admitPlacement(origin, 20, T0), JSON.stringify(off)).toBeUndefined();
        }
      }
    });

    it("a placement bigger than the network burst is refused as RateLimited, retry in a second", () => {
      const guard = guardWith({ networkPixelsPerSecond: 5, networkPixelBurst: 5 });
      expect(refusal(guard.admitPlacement(ALICE, 6, T0))).toMatchObject({
        code: ErrorCode.RateLimited,
        retryAfterMs: 1000,
      });
      expect(guard.admitPlacement(ALICE, 5, T0)).toBeUndefined();
    });
  });

  describe("a refused placement spends nothing", () => {
    const LIMITS_50_60 = { pixelBurst: 50, pixelsPerSecond: 1, networkPixelBurst: 60, networkPixelsPerSecond: 1 };

    it("an identity refusal does not charge the network bucket", () => {
      const guard = guardWith(LIMITS_50_60);
      expect(guard.admitPlacement(ALICE, 50, T0)).toBeUndefined(); // network: 10 left
      for (let i = 0; i < 5; i++) expect(refusal(guard.admitPlacement(ALICE, 10, T0)).message).toContain("person");
      // had Alice's refusals been charged to the network, Bob would find it empty
      expect(guard.admitPlacement(BOB, 10, T0)).toBeUndefined();
      expect(refusal(guard.admitPlacement(BOB, 1, T0)).message).toContain("network");
    });

    it("a network refusal does not charge the identity bucket", () => {
      const guard = guardWith(LIMITS_50_60);
      expect(guard.admitPlacement(BOB, 50, T0)).toBeUndefined(); // network: 10 left
      for (let i = 0; i < 5; i++) expect(refusal(guard.admitPlacement(ALICE, 20, T0)).message).toContain("network");
      // on another network Alice still has her whole burst
      expect(guard.admitPlacement({ ...ALICE, network: "9.9.9.9" }, 50, T0)).toBeUndefined();
    });

    it("a TooLarge refusal charges neither", () => {
      const guard = guardWith(LIMITS_50_60);
      for (let i = 0; i < 5; i++) expect(refusal(guard.admitPlacement(ALICE, 51, T0)).code).toBe(ErrorCode.TooLarge);
      expect(guard.admitPlacement(ALICE, 50, T0)).toBeUndefined();
      expect(guard.admitPlacement(BOB, 10, T0)).toBeUndefined();
    });

    it("an admitted placement charges both", () => {
      const guard = guardWith(LIMITS_50_60);
      expect(guard.admitPlacement(ALICE, 30, T0)).toBeUndefined();
      expect(refusal(guard.admitPlacement(ALICE, 21, T0)).message).toContain("person");
      expect(refusal(guard.admitPlacement(BOB, 31, T0)).message).toContain("network");
      expect(guard.admitPlacement(BOB, 30, T0)).toBeUndefined();
    });
  });

  describe("live limits", () => {
    it("a new rate applies to buckets that already exist", () => {
      const guard = guardWith();
      expect(guard.admitPlacement(ALICE, 20, T0)).toBeUndefined();
      guard.limits = { ...guard.limits, pixelsPerSecond: 100 };
      // the retry time is already the new rate's: 10 ms a pixel, not 100
      expect(refusal(guard.admitPlacement(ALICE, 1, T0)).retryAfterMs).toBe(10);
      // at the old 10/s, 100 ms would give one pixel; at 100/s it gives ten
      expect(guard.admitPlacement(ALICE, 10, T0 + 100)).toBeUndefined();
      expect(refusal(guard.admitPlacement(ALICE, 1, T0 + 100)).retryAfterMs).toBe(10);
    });

    it("a lower rate applies to buckets that already exist", () => {
      const guard = guardWith();
      expect(guard.admitPlacement(ALICE, 20, T0)).toBeUndefined();
      guard.limits = { ...guard.limits, pixelsPerSecond: 1 };
      expect(refusal(guard.admitPlacement(ALICE, 2, T0)).retryAfterMs).toBe(2000);
      expect(refusal(guard.admitPlacement(ALICE, 2, T0 + 1999)).code).toBe(ErrorCode.RateLimited);
      expect(guard.admitPlacement(ALICE, 2, T0 + 2000)).toBeUndefined();
    });

    it("a lower burst caps a bucket that holds more, at once", () => {
      const guard = guardWith();
      expect(guard.admitPlacement(ALICE, 1, T0)).toBeUndefined(); // Alice's bucket exists, 19 left
      guard.limits = { ...guard.limits, pixelBurst: 5 };
      expect(refusal(guard.admitPlacement(ALICE, 6, T0)).code).toBe(ErrorCode.TooLarge);
      expect(guard.admitPlacement(ALICE, 5, T0)).toBeUndefined();
      expect(refusal(guard.admitPlacement(ALICE, 1, T0)).code).toBe(ErrorCode.RateLimited);
    });

    it("a higher burst is earned at the rate, not granted at once", () => {
      const guard = guardWith();
      expect(guard.admitPlacement(ALICE, 20, T0)).toBeUndefined();
      guard.limits = { ...guard.limits, pixelBurst: 40 };
      expect(refusal(guard.admitPlacement(ALICE, 40, T0)).retryAfterMs).toBe(4000);
      expect(guard.admitPlacement(ALICE, 40, T0 + 4000)).toBeUndefined();
    });

    it("network limits change live too: a new network rate, a lower network burst, off", () => {
      const guard = guardWith({ networkPixelsPerSecond: 30, networkPixelBurst: 30 });
      const dave = { identity: "dave", network: ALICE.network };
      expect(guard.admitPlacement(ALICE, 20, T0)).toBeUndefined();
      expect(guard.admitPlacement(BOB, 10, T0)).toBeUndefined(); // the network is empty
      guard.limits = { ...guard.limits, networkPixelsPerSecond: 300 };
      expect(refusal(guard.admitPlacement(dave, 1, T0)).retryAfterMs).toBe(4); // 3.3 ms at 300/s
      expect(guard.admitPlacement(dave, 15, T0 + 50)).toBeUndefined();
      guard.limits = { ...guard.limits, networkPixelBurst: 5 };
      expect(guard.admitPlacement(dave, 5, T0 + 1000)).toBeUndefined(); // refilled, but only to 5
      expect(refusal(guard.admitPlacement(dave, 1, T0 + 1000)).message).toContain("network");
      guard.limits = { ...guard.limits, networkPixelsPerSecond: 0 };
      expect(guard.admitPlacement({ identity: "erin", network: ALICE.network }, 20, T0 + 1000)).toBeUndefined();
    });
  });
});

describe("Guard socket caps", () => {
  it("[P19] counts live sockets apart from channels: each kind has the whole cap", () => {
    const guard = guardWith({ socketsPerIdentity: 2, socketsPerNetwork: 3 });
    guard.socketOpened(ALICE);
    guard.socketOpened(ALICE);
    expect(guard.socketRefusal(ALICE)).toContain("2 open sockets per person");
    expect(guard.socketRefusal(ALICE, "live")).toBeUndefined();
    guard.socketOpened(ALICE, "live");
    guard.socketOpened(ALICE, "live");
    expect(guard.socketRefusal(ALICE, "live")).toContain("2 live sockets per person");
    expect(guard.socketsOf(ALICE, "live")).toEqual({ identity: 2, network: 2 });
    guard.socketOpened(BOB, "live");
    // Alice and Bob share a network: three live sockets fill it for a newcomer there, not for Carol.
    expect(guard.socketRefusal({ identity: "newcomer", network: ALICE.network }, "live")).toContain(
      "3 live sockets per network",
    );
    expect(guard.socketRefusal(CAROL, "live")).toBeUndefined();
    guard.socketClosed(ALICE, "live");
    expect(guard.socketRefusal(ALICE, "live")).toBeUndefined();
    expect(guard.socketsOf(ALICE)).toEqual({ identity: 2, network: 2 });
  });

  it("caps the sockets of one identity; others are unaffected", () => {
    const guard = guardWith({ socketsPerIdentity: 2 });
    for (let i = 0; i < 2; i++) {
      expect(guard.socketRefusal(ALICE)).toBeUndefined();
      guard.socketOpened(ALICE);
    }
    expect(guard.socketRefusal(ALICE)).toContain("2 open sockets per person");
    expect(guard.socketRefusal(BOB)).toBeUndefined();
    expect(guard.socketsOf(ALICE)).toEqual({ identity: 2, network: 2 });
  });

  it("caps the sockets of one network across its identities; other networks are unaffected", () => {
    const guard = guardWith({ socketsPerNetwork: 3 });
    guard.socketOpened(ALICE);
    guard.socketOpened(ALICE);
    guard.socketOpened(BOB);
    expect(guard.socketRefusal(BOB)).toContain("3 open sockets per network");
    expect(guard.socketRefusal({ identity: "newcomer", network: ALICE.network })).toContain("per network");
    expect(guard.socketRefusal(CAROL)).toBeUndefined();
    expect(guard.socketsOf(BOB)).toEqual({ identity: 1, network: 3 });
  });

  it("0 means no cap", () => {
    const guard = guardWith({ socketsPerIdentity: 0, socketsPerNetwork: 0 });
    for (let i = 0; i < 1000; i++) {
      expect(guard.socketRefusal(ALICE)).toBeUndefined();
      guard.socketOpened(ALICE);
    }
    expect(guard.socketsOf(ALICE)).toEqual({ identity: 1000, network: 1000 });
  });

  it("closing a socket frees its slot", () => {
    const guard = guardWith({ socketsPerIdentity: 1, socketsPerNetwork: 2 });
    guard.socketOpened(ALICE);
    expect(guard.socketRefusal(ALICE)).toBeDefined();
    guard.socketClosed(ALICE);
    expect(guard.socketRefusal(ALICE)).toBeUndefined();

    guard.socketOpened(ALICE);
    guard.socketOpened(BOB);
    expect(guard.socketRefusal({ identity: "third", network: ALICE.network })).toBeDefined();
    guard.socketClosed(BOB);
    expect(guard.socketRefusal({ identity: "third", network: ALICE.network })).toBeUndefined();
  });

  it("a cap lowered below what is open refuses new sockets and leaves open ones counted", () => {
    const guard = guardWith();
    for (let i = 0; i < 5; i++) guard.socketOpened(ALICE);
    guard.limits = { ...guard.limits, socketsPerIdentity: 3 };
    expect(guard.socketRefusal(ALICE)).toBeDefined();
    guard.socketClosed(ALICE);
    guard.socketClosed(ALICE);
    expect(guard.socketRefusal(ALICE)).toBeDefined(); // 3 open, cap 3
    guard.socketClosed(ALICE);
    expect(guard.socketRefusal(ALICE)).toBeUndefined();
  });

  it("counts return to 0 when every socket has closed, and never go negative", () => {
    const guard = guardWith({ socketsPerIdentity: 2, socketsPerNetwork: 2 });
    const origins = [ALICE, ALICE, BOB, CAROL];
    for (const origin of origins) guard.socketOpened(origin);
    expect(guard.socketsOf(ALICE)).toEqual({ identity: 2, network: 3 });
    for (const origin of origins) guard.socketClosed(origin);
    for (const origin of [ALICE, BOB, CAROL]) expect(guard.socketsOf(origin)).toEqual({ identity: 0, network: 0 });

    // a close without an open (a duplicate close event) does not bank a negative count …
    guard.socketClosed(ALICE);
    guard.socketClosed(ALICE);
    expect(guard.socketsOf(ALICE)).toEqual({ identity: 0, network: 0 });
    // … that would let the next sockets slip past the cap
    guard.socketOpened(ALICE);
    expect(guard.socketsOf(ALICE)).toEqual({ identity: 1, network: 1 });
    guard.socketOpened(ALICE);
    expect(guard.socketRefusal(ALICE)).toBeDefined();
  });

  it("socketsOf is 0 for an unknown or missing key", () => {
    const guard = guardWith();
    guard.socketOpened(ALICE);
    expect(guard.socketsOf({})).toEqual({ identity: 0, network: 0 });
    expect(guard.socketsOf({ identity: ALICE.identity })).toEqual({ identity: 1, network: 0 });
    expect(guard.socketsOf({ network: ALICE.network })).toEqual({ identity: 0, network: 1 });
    expect(guard.socketsOf({ identity: "nobody", network: "0.0.0.0" })).toEqual({ identity: 0, network: 0 });
  });

  it("socketRefusal only asks; it opens nothing", () => {
    const guard = guardWith({ socketsPerIdentity: 1 });
    for (let i = 0; i < 5; i++) expect(guard.socketRefusal(ALICE)).toBeUndefined();
    expect(guard.socketsOf(ALICE)).toEqual({ identity: 0, network: 0 });
  });
});

describe("KeyedBuckets", () => {
  const CAPACITY = 10;
  const RATE = 1; // a bucket that spent 1 token is full again a second later

  function fill(buckets: KeyedBuckets, count: number, now: number, prefix = "k", cost = 1): void {
    for (let i = 0; i < count; i++) buckets.take(`${prefix}${i}`, cost, CAPACITY, RATE, now);
  }

  it("waitMs for an unknown key is 0, or Infinity beyond the capacity, and creates nothing", () => {
    const buckets = new KeyedBuckets();
    expect(buckets.waitMs("new", CAPACITY, CAPACITY, RATE, T0)).toBe(0);
    expect(buckets.waitMs("new", CAPACITY + 1, CAPACITY, RATE, T0)).toBe(Number.POSITIVE_INFINITY);
    expect(buckets.size).toBe(0);
  });

  it("take creates a full bucket and spends from it", () => {
    const buckets = new KeyedBuckets();
    buckets.take("a", 4, CAPACITY, RATE, T0);
    expect(buckets.size).toBe(1);
    expect(buckets.waitMs("a", 6, CAPACITY, RATE, T0)).toBe(0);
    expect(buckets.waitMs("a", 7, CAPACITY, RATE, T0)).toBeCloseTo(1000, 6);
    expect(buckets.waitMs("b", 10, CAPACITY, RATE, T0)).toBe(0);
  });

  it("keeps up to 4096 buckets without sweeping, even full ones", () => {
    const buckets = new KeyedBuckets();
    fill(buckets, 4095, T0);
    buckets.take("last", 1, CAPACITY, RATE, T0 + 60_000);
    expect(buckets.size).toBe(4096);
  });

  it("past 4096 buckets, sweeps away the full ones and keeps the rest", () => {
    const buckets = new KeyedBuckets();
    fill(buckets, 3000, T0, "light", 1); // full again after 1 s
    fill(buckets, 1096, T0, "heavy", CAPACITY); // empty; full again after 10 s
    expect(buckets.size).toBe(4096);
    // 5 s later the light ones are full, the heavy ones are not; the 4097th key triggers a sweep
    buckets.take("trigger", 1, CAPACITY, RATE, T0 + 5000);
    expect(buckets.size).toBe(1096 + 1);
    // the heavy ones kept what they spent
    expect(buckets.waitMs("heavy0", CAPACITY, CAPACITY, RATE, T0 + 5000)).toBeCloseTo(5000, 6);
  });

  it("memory stays bounded: after >10 s the buckets of thousands of keys, full again, are dropped", () => {
    const buckets = new KeyedBuckets();
    fill(buckets, 5000, T0);
    const peak = buckets.size;
    expect(peak).toBe(5000); // swept at the 4097th key, but nothing was full yet
    buckets.take("later", 1, CAPACITY, RATE, T0 + 10_001);
    expect(buckets.size).toBe(1);
    // and again, for the next wave of keys
    fill(buckets, 5000, T0 + 20_000, "wave2-");
    buckets.take("latest", 1, CAPACITY, RATE, T0 + 40_000);
    expect(buckets.size).toBe(1);
  });

  it("sweeps at most once every 10 s", () => {
    const buckets = new KeyedBuckets();
    fill(buckets, 4097, T0); // the first sweep runs at T0 and finds nothing full
    expect(buckets.size).toBe(4097);
    buckets.take("at-5s", 1, CAPACITY, RATE, T0 + 5000); // all full, but too soon for another sweep
    expect(buckets.size).toBe(4098);
    buckets.take("at-10s", 1, CAPACITY, RATE, T0 + 10_000);
    expect(buckets.size).toBe(1);
  });

  // Regression: the sweep ran between creating a new key's bucket (full) and spending from it, so
  // when that key triggered a sweep its bucket was dropped and the spend forgotten.
  it("the key that triggers a sweep keeps what it spent", () => {
    const buckets = new KeyedBuckets();
    fill(buckets, 4096, T0);
    buckets.take("trigger", 5, CAPACITY, RATE, T0 + 60_000);
    expect(buckets.size).toBe(1);
    expect(buckets.waitMs("trigger", CAPACITY, CAPACITY, RATE, T0 + 60_000)).toBeCloseTo(5000, 6);
  });

  it("a Guard's identity buckets are swept the same way", () => {
    const guard = guardWith();
    for (let i = 0; i < 5000; i++) guard.admitPlacement({ identity: `id-${i}`, network: "x" }, 20, T0);
    // all 5000 are empty at T0 …
    expect(refusal(guard.admitPlacement({ identity: "id-0", network: "x" }, 1, T0)).code).toBe(ErrorCode.RateLimited);
    // … and after a sweep a full one behaves as a fresh one
    guard.admitPlacement({ identity: "sweeper", network: "x" }, 1, T0 + 10_000);
    expect(guard.admitPlacement({ identity: "id-0", network: "x" }, 20, T0 + 10_000)).toBeUndefined();
  });
});
