import { describe, expect, it } from "vitest";
import { bisect } from "./ladder.ts";

describe("bisect", () => {
  it("halves the gap between the last pass and the first failure, in two significant figures", () => {
    expect(bisect(30_000, 40_000)).toBe(35_000);
    expect(bisect(30_000, 35_000)).toBe(33_000);
    expect(bisect(35_000, 40_000)).toBe(38_000);
    expect(bisect(7_000, 10_000)).toBe(8_500);
    expect(bisect(100, 150)).toBe(130);
  });

  it("gives nothing when no rounded rate lies strictly between", () => {
    expect(bisect(100, 101)).toBeUndefined();
    expect(bisect(10, 11)).toBeUndefined();
    expect(bisect(33_000, 34_000)).toBeUndefined();
  });

  it("always lands strictly inside the gap", () => {
    for (let passed = 50; passed < 100_000; passed = Math.ceil(passed * 1.37)) {
      const failed = Math.ceil(passed * 1.5);
      const mid = bisect(passed, failed);
      expect(mid, `${passed}..${failed}`).toBeGreaterThan(passed);
      expect(mid, `${passed}..${failed}`).toBeLessThan(failed);
    }
  });
});
