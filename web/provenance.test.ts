/**
 * Tests of who-placed-it (provenance.ts): the server's pixel log is read field by field, told in words
 * ("you", "admin", a short identity), trusted only when its newest entry explains the colour, and asked
 * for with the panel's abort signal.
 */

import { describe, expect, it } from "vitest";
import {
  ADMIN_IDENTITY,
  describePlacer,
  type PixelRecord,
  parsePixelRecord,
  pixelLogSource,
  provenanceOf,
} from "./provenance.ts";

const ME = "AAAAAAAAAAAAAAAAAAAAAA";
const OTHER = "Zk3_q-9xYbCdEfGhIjKlMn";

function record(colour: number, ...history: [identity: string, colour: number, at: number][]): PixelRecord {
  return {
    x: 3,
    y: 4,
    colour,
    history: history.map(([identity, c, at], i) => ({ identity, colour: c, at, seq: 100 - i })),
  };
}

describe("describePlacer", () => {
  it("says you for the page's own identity, admin for an admin, and a short id for anyone else", () => {
    expect(describePlacer(ME, ME)).toBe("you");
    expect(describePlacer(ADMIN_IDENTITY, ME)).toBe("admin");
    expect(describePlacer(OTHER, ME)).toBe("Zk3_q-9x");
    // Without its own identity the page cannot say "you": its pixels get a short id like anyone's.
    expect(describePlacer(ME, undefined)).toBe("AAAAAAAA");
  });
});

describe("provenanceOf", () => {
  it("names the newest entry's identity and time when it placed the colour the pixel has", () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    expect(provenanceOf(record(5, [OTHER, 5, at], [ME, 2, at - 1000]), ME)).toEqual({
      colour: 5,
      placedBy: "Zk3_q-9x",
      placedById: OTHER,
      placedAt: new Date(at),
    });
    expect(provenanceOf(record(2, [ME, 2, at]), ME)).toMatchObject({ placedBy: "you", placedById: ME });
  });

  it("names nobody when the log cannot explain the colour: empty, or changed by something it does not hold", () => {
    expect(provenanceOf(record(0), ME)).toEqual({ colour: 0 });
    expect(provenanceOf(record(7, [OTHER, 5, 1]), ME)).toEqual({ colour: 7 });
  });
});

describe("parsePixelRecord", () => {
  it("reads the server's answer", () => {
    const body = { x: 3, y: 4, colour: 5, history: [{ identity: OTHER, at: 1_700_000_000_000, seq: 9, colour: 5 }] };
    expect(parsePixelRecord(body)).toEqual(body);
    expect(parsePixelRecord({ x: 0, y: 0, colour: 0, history: [] })).toEqual({ x: 0, y: 0, colour: 0, history: [] });
  });

  it.each([
    ["not an object", "{}"],
    ["no history", { x: 1, y: 1, colour: 1 }],
    ["a negative coordinate", { x: -1, y: 1, colour: 1, history: [] }],
    ["a fractional colour", { x: 1, y: 1, colour: 1.5, history: [] }],
    ["an entry without identity", { x: 1, y: 1, colour: 1, history: [{ at: 1, seq: 1, colour: 1 }] }],
    ["an entry with a string time", { x: 1, y: 1, colour: 1, history: [{ identity: ME, at: "1", seq: 1, colour: 1 }] }],
    ["a null entry", { x: 1, y: 1, colour: 1, history: [null] }],
  ])("refuses %s", (_, body) => {
    expect(parsePixelRecord(body)).toBeUndefined();
  });
});

describe("pixelLogSource", () => {
  function answering(status: number, body: unknown, seen: { url?: string; signal?: AbortSignal | null } = {}) {
    return (async (input: RequestInfo | URL, init?: RequestInit) => {
      seen.url = String(input);
      seen.signal = init?.signal;
      return new Response(JSON.stringify(body), { status });
    }) as typeof fetch;
  }

  it("asks for the pixel with the panel's signal and tells who, by the page's own identity", async () => {
    const seen: { url?: string; signal?: AbortSignal | null } = {};
    const at = 1_700_000_000_000;
    const source = pixelLogSource(
      "/api/pixel",
      async () => ME,
      answering(200, { x: 3, y: 4, colour: 1, history: [{ identity: ME, at, seq: 2, colour: 1 }] }, seen),
    );
    const signal = new AbortController().signal;
    expect(await source(3, 4, signal)).toEqual({ colour: 1, placedBy: "you", placedById: ME, placedAt: new Date(at) });
    expect(seen.url).toBe("/api/pixel?x=3&y=4");
    expect(seen.signal).toBe(signal);
  });

  it("answers nothing off the canvas (404), and fails on other errors or an unreadable answer", async () => {
    const signal = new AbortController().signal;
    const self = async () => ME;
    expect(await pixelLogSource("/api/pixel", self, answering(404, { error: "out_of_bounds" }))(1, 1, signal)).toBe(
      undefined,
    );
    await expect(pixelLogSource("/api/pixel", self, answering(503, {}))(1, 1, signal)).rejects.toThrow(/503/);
    await expect(pixelLogSource("/api/pixel", self, answering(200, { x: 1 }))(1, 1, signal)).rejects.toThrow(
      /cannot read/,
    );
  });
});
