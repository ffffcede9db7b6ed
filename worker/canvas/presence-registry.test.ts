import { describe, expect, it } from "vitest";
import { PresenceRegistry, totalsDiffer } from "./presence-registry.ts";

const report = (isolateId: string, region: string, count: number, reportSeq: number, receivedAt = 0) => ({
  isolateId,
  region,
  count,
  reportSeq,
  receivedAt,
});

describe("PresenceRegistry [P16]", () => {
  it("sums the newest report of each isolate into a total and sorted per-region totals", () => {
    const r = new PresenceRegistry(30_000);
    r.apply(report("a", "us-east", 3, 1));
    r.apply(report("b", "eu-west", 4, 1));
    r.apply(report("c", "eu-west", 5, 1));
    r.apply(report("a", "us-east", 7, 2));
    expect(r.totals()).toEqual({
      total: 16,
      regions: [
        { region: "eu-west", count: 9 },
        { region: "us-east", count: 7 },
      ],
    });
  });

  it("ignores a report numbered at or below the one it holds", () => {
    const r = new PresenceRegistry(30_000);
    expect(r.apply(report("a", "x", 10, 5))).toBe(true);
    expect(r.apply(report("a", "x", 99, 4))).toBe(false);
    expect(r.apply(report("a", "x", 99, 5))).toBe(false);
    expect(r.totals().total).toBe(10);
  });

  it("keeps an isolate that reported 0, so a late older report cannot resurrect its sockets", () => {
    const r = new PresenceRegistry(30_000);
    r.apply(report("a", "x", 4, 1));
    r.apply(report("a", "x", 0, 2));
    expect(r.apply(report("a", "x", 4, 1))).toBe(false);
    expect(r.totals()).toEqual({ total: 0, regions: [] });
    expect(r.entries()).toHaveLength(1);
  });

  it("expires isolates silent for the window, and says when the next one would", () => {
    const r = new PresenceRegistry(1000);
    expect(r.nextExpiry()).toBeUndefined();
    r.apply(report("a", "x", 1, 1, 100));
    r.apply(report("b", "y", 2, 1, 500));
    expect(r.nextExpiry()).toBe(1100);
    expect(r.expire(1099)).toEqual([]);
    expect(r.expire(1100)).toEqual(["a"]);
    expect(r.totals()).toEqual({ total: 2, regions: [{ region: "y", count: 2 }] });
    expect(r.nextExpiry()).toBe(1500);
    // A fresh report moves the deadline.
    r.apply(report("b", "y", 2, 2, 1400));
    expect(r.expire(1500)).toEqual([]);
    expect(r.nextExpiry()).toBe(2400);
  });

  it("totalsDiffer notices a changed total, region count or region name", () => {
    const base = { total: 3, regions: [{ region: "a", count: 3 }] };
    expect(totalsDiffer(base, { total: 3, regions: [{ region: "a", count: 3 }] })).toBe(false);
    expect(totalsDiffer(base, { total: 4, regions: [{ region: "a", count: 4 }] })).toBe(true);
    expect(totalsDiffer(base, { total: 3, regions: [{ region: "b", count: 3 }] })).toBe(true);
    expect(
      totalsDiffer(base, {
        total: 3,
        regions: [
          { region: "a", count: 2 },
          { region: "b", count: 1 },
        ],
      }),
    ).toBe(true);
  });
});
