/**
 * Tests of the live limits (limits.ts): what an admin's patch may contain — every knob at its bounds
 * and just past them, the types refused, unknown keys named — and that applying a patch changes only
 * what it names. Runs in Node.
 */
import { describe, expect, it } from "vitest";
import { applyLimitsPatch, LIMIT_RANGES, type Limits, type LimitsPatch, parseLimitsPatch } from "./limits.ts";

const LIMITS: Limits = {
  pixelsPerSecond: 10,
  pixelBurst: 20,
  networkPixelsPerSecond: 40,
  networkPixelBurst: 80,
  socketsPerIdentity: 8,
  socketsPerNetwork: 64,
  frozen: false,
};

const KNOBS = Object.keys(LIMIT_RANGES) as (keyof typeof LIMIT_RANGES)[];

function patchOf(body: unknown): LimitsPatch {
  const parsed = parseLimitsPatch(body);
  if (!parsed.ok) throw new Error(`expected a patch, got: ${parsed.message}`);
  return parsed.patch;
}

function messageOf(body: unknown): string {
  const parsed = parseLimitsPatch(body);
  if (parsed.ok) throw new Error(`expected a refusal, got ${JSON.stringify(parsed.patch)}`);
  return parsed.message;
}

describe("LIMIT_RANGES", () => {
  it("covers every numeric knob of Limits, and nothing else", () => {
    const numeric = Object.keys(LIMITS).filter((key) => key !== "frozen");
    expect(KNOBS.sort()).toEqual(numeric.sort());
  });

  it("keeps the identity rate and burst ≥ 1 and within a u16 (they travel in the Limits frame)", () => {
    expect(LIMIT_RANGES.pixelsPerSecond).toEqual([1, 65535]);
    expect(LIMIT_RANGES.pixelBurst).toEqual([1, 65535]);
  });

  it("lets the network and socket knobs be 0 (off)", () => {
    for (const knob of ["networkPixelsPerSecond", "networkPixelBurst", "socketsPerIdentity", "socketsPerNetwork"]) {
      expect(LIMIT_RANGES[knob as keyof typeof LIMIT_RANGES][0], knob).toBe(0);
    }
  });
});

describe("parseLimitsPatch", () => {
  it("accepts each knob at both of its bounds", () => {
    for (const knob of KNOBS) {
      const [min, max] = LIMIT_RANGES[knob];
      expect(patchOf({ [knob]: min }), `${knob} = ${min}`).toEqual({ [knob]: min });
      expect(patchOf({ [knob]: max }), `${knob} = ${max}`).toEqual({ [knob]: max });
    }
  });

  it("refuses each knob just outside its bounds, naming the knob and its range", () => {
    for (const knob of KNOBS) {
      const [min, max] = LIMIT_RANGES[knob];
      for (const value of [min - 1, max + 1]) {
        const message = messageOf({ [knob]: value });
        expect(message, `${knob} = ${value}`).toContain(knob);
        expect(message).toContain(`[${min}, ${max}]`);
      }
    }
  });

  it("refuses non-integers, non-finite numbers and other types for every knob", () => {
    for (const knob of KNOBS) {
      for (const value of [1.5, 0.1, Number.NaN, Number.POSITIVE_INFINITY, "10", "", true, null, [10], { value: 10 }]) {
        expect(parseLimitsPatch({ [knob]: value }).ok, `${knob} = ${String(value)}`).toBe(false);
        expect(messageOf({ [knob]: value })).toContain(knob);
      }
    }
  });

  it("refuses a bad knob even next to good ones", () => {
    expect(parseLimitsPatch({ pixelsPerSecond: 5, pixelBurst: 0 }).ok).toBe(false);
    expect(parseLimitsPatch({ frozen: true, socketsPerNetwork: -1 }).ok).toBe(false);
  });

  it("refuses an unknown key, naming it and listing the known ones", () => {
    const message = messageOf({ pixelsPerSecond: 5, pixelsPerMinute: 5 });
    expect(message).toContain('"pixelsPerMinute"');
    for (const knob of KNOBS) expect(message).toContain(knob);
    expect(message).toContain("frozen");
  });

  it("does not mistake inherited property names for knobs", () => {
    for (const body of [JSON.parse('{"__proto__": 5}'), { toString: 5 }, { constructor: 5 }, { hasOwnProperty: 1 }]) {
      expect(parseLimitsPatch(body).ok, JSON.stringify(Object.keys(body))).toBe(false);
    }
    expect(messageOf(JSON.parse('{"__proto__": 5}'))).toContain('"__proto__"');
  });

  it("frozen must be a boolean", () => {
    expect(patchOf({ frozen: true })).toEqual({ frozen: true });
    expect(patchOf({ frozen: false })).toEqual({ frozen: false });
    for (const value of ["true", "false", 1, 0, null, undefined, {}]) {
      expect(messageOf({ frozen: value }), String(value)).toContain("frozen");
    }
  });

  it("refuses anything but a plain object", () => {
    for (const body of [null, undefined, [], [{ pixelsPerSecond: 5 }], "pixelsPerSecond=5", 5, true]) {
      expect(messageOf(body), JSON.stringify(body)).toMatch(/object/);
    }
  });

  it("accepts an empty object as an empty patch, and several knobs at once", () => {
    expect(patchOf({})).toEqual({});
    const all = {
      pixelsPerSecond: 1,
      pixelBurst: 65535,
      networkPixelsPerSecond: 0,
      networkPixelBurst: 1_000_000,
      socketsPerIdentity: 3,
      socketsPerNetwork: 0,
      frozen: true,
    };
    expect(patchOf(all)).toEqual(all);
  });
});

describe("applyLimitsPatch", () => {
  it("overrides only the keys the patch names", () => {
    expect(applyLimitsPatch(LIMITS, { pixelBurst: 99 })).toEqual({ ...LIMITS, pixelBurst: 99 });
    expect(applyLimitsPatch(LIMITS, { frozen: true, socketsPerNetwork: 0 })).toEqual({
      ...LIMITS,
      frozen: true,
      socketsPerNetwork: 0,
    });
  });

  it("an empty patch changes nothing", () => {
    expect(applyLimitsPatch(LIMITS, {})).toEqual(LIMITS);
  });

  it("returns a new object and leaves the limits it was given alone", () => {
    const before = { ...LIMITS };
    const after = applyLimitsPatch(LIMITS, { pixelsPerSecond: 1 });
    expect(after).not.toBe(LIMITS);
    expect(LIMITS).toEqual(before);
    expect(after.pixelsPerSecond).toBe(1);
  });

  it("applies what parseLimitsPatch accepted, including a 0 and a false", () => {
    const frozen = applyLimitsPatch({ ...LIMITS, frozen: true }, patchOf({ frozen: false, networkPixelBurst: 0 }));
    expect(frozen).toEqual({ ...LIMITS, frozen: false, networkPixelBurst: 0 });
  });
});
