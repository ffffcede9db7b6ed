/**
 * Tests of the load-test report arithmetic (stats.ts). Expected values are worked out by hand from
 * the nearest-rank definition, not recomputed with the code under test, so a wrong rank, an
 * off-by-one bucket edge or a lost sample shows up as a wrong number. Runs in Node.
 */

import { describe, expect, it } from "vitest";
import {
  bucketTimes,
  DEFAULT_LATENCY_BOUNDS_MS,
  formatBytes,
  formatCount,
  formatMs,
  formatPercent,
  histogram,
  maxOverMin,
  peakBucket,
  percentile,
  ratio,
  SampleBuffer,
  summarizeLatency,
  untilAll,
} from "./stats.ts";

/** 1, 2, …, n. */
function oneTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

describe("percentile (nearest rank)", () => {
  it("gives the k-th value of 1..100 for p = k", () => {
    const s = oneTo(100);
    expect(percentile(s, 50)).toBe(50);
    expect(percentile(s, 95)).toBe(95);
    expect(percentile(s, 99)).toBe(99);
    expect(percentile(s, 100)).toBe(100);
    expect(percentile(s, 0)).toBe(1);
    expect(percentile(s, 1)).toBe(1);
    // ceil(50.5) = 51: nearest rank rounds up, it does not interpolate to 50.5.
    expect(percentile(s, 50.5)).toBe(51);
  });

  it("rounds the rank up on a 10-element array", () => {
    const s = Float64Array.of(3, 7, 8, 11, 15, 20, 24, 30, 41, 90);
    // rank = ceil(p × 10 / 100): p50 → 5, p95 → ceil(9.5) = 10, p99 → 10, p10 → 1, p11 → 2, p0 → 1.
    expect(percentile(s, 50)).toBe(15);
    expect(percentile(s, 95)).toBe(90);
    expect(percentile(s, 99)).toBe(90);
    expect(percentile(s, 90)).toBe(41);
    expect(percentile(s, 10)).toBe(3);
    expect(percentile(s, 11)).toBe(7);
    expect(percentile(s, 0)).toBe(3);
  });

  it("is not thrown off by floating-point rounding of p/100 × n", () => {
    // 0.07 × 100 = 7.000000000000001 in floating point; a ceiling of that would give rank 8.
    expect(percentile(oneTo(100), 7)).toBe(7);
    // The same happens for 14, 28, 55 and 56 (p / 100 × 100 lands just above p).
    for (const p of [14, 28, 55, 56]) expect(percentile(oneTo(100), p)).toBe(p);
  });

  it("returns the only value of a one-element array for every p", () => {
    for (const p of [0, 1, 50, 99, 100]) expect(percentile([42], p)).toBe(42);
  });

  it("is NaN for an empty array and rejects p outside [0, 100]", () => {
    expect(percentile([], 50)).toBeNaN();
    expect(percentile(new Float64Array(0), 0)).toBeNaN();
    expect(() => percentile([1], -1)).toThrow(RangeError);
    expect(() => percentile([1], 100.5)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe("summarizeLatency", () => {
  it("sorts unsorted input numerically (not as strings) and leaves the input alone", () => {
    // As strings 100 < 20 < 3; a lexicographic sort would give max = 9 and p50 = 20.
    const input = [20, 3, 100, 9, 1, 50, 7, 30, 2, 10];
    const before = [...input];
    const s = summarizeLatency(input);
    // sorted: 1 2 3 7 9 10 20 30 50 100
    expect(s).toEqual({ count: 10, p50: 9, p95: 100, p99: 100, max: 100, mean: 23.2 });
    expect(input).toEqual(before);
  });

  it("summarises 1..100 shuffled in a Float64Array", () => {
    const values = oneTo(100);
    // A fixed permutation: i × 37 mod 101 visits 1..100 once each.
    const shuffled = Float64Array.from(values, (_, i) => ((i + 1) * 37) % 101);
    expect(shuffled[0]).toBe(37);
    const s = summarizeLatency(shuffled);
    expect(s).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100, mean: 50.5 });
    expect(shuffled[0]).toBe(37);
  });

  it("reports no samples as count 0 and NaN, not as a perfect 0 ms", () => {
    const s = summarizeLatency([]);
    expect(s.count).toBe(0);
    for (const v of [s.p50, s.p95, s.p99, s.max, s.mean]) expect(v).toBeNaN();
    // The point of NaN: a "p99 ≤ 250 ms" threshold fails on a run that measured nothing.
    expect(s.p99 <= 250).toBe(false);
  });

  it("handles a single sample", () => {
    expect(summarizeLatency([4.5])).toEqual({ count: 1, p50: 4.5, p95: 4.5, p99: 4.5, max: 4.5, mean: 4.5 });
  });
});

describe("histogram", () => {
  it("puts a value exactly on a bound into that bound's bucket", () => {
    const h = histogram([1, 2, 5], [1, 2, 5]);
    expect(h).toEqual([
      { le: 1, count: 1 },
      { le: 2, count: 1 },
      { le: 5, count: 1 },
      { le: Number.POSITIVE_INFINITY, count: 0 },
    ]);
  });

  it("puts values just above a bound into the next bucket and above the last into le: Infinity", () => {
    const h = histogram([0, 1.0001, 2, 2.5, 5.0001, 1e9], [1, 2, 5]);
    expect(h.map((b) => b.count)).toEqual([1, 2, 1, 2]);
    expect(h.at(-1)?.le).toBe(Number.POSITIVE_INFINITY);
  });

  it("counts every sample once with the default bounds", () => {
    const samples = Float64Array.from({ length: 10_000 }, (_, i) => i * 0.7);
    const h = histogram(samples, DEFAULT_LATENCY_BOUNDS_MS);
    expect(h).toHaveLength(DEFAULT_LATENCY_BOUNDS_MS.length + 1);
    expect(h.reduce((sum, b) => sum + b.count, 0)).toBe(10_000);
    // 0, 0.7 ≤ 1; 1.4 ≤ 2; 2.1 … 4.9 (i = 3..7) ≤ 5.
    expect(h[0]).toEqual({ le: 1, count: 2 });
    expect(h[1]).toEqual({ le: 2, count: 1 });
    expect(h[2]).toEqual({ le: 5, count: 5 });
    // Above 5000 ms: i × 0.7 > 5000 ⇔ i ≥ 7143, so 10000 − 7143 = 2857 samples.
    expect(h.at(-1)).toEqual({ le: Number.POSITIVE_INFINITY, count: 2857 });
  });

  it("gives all-zero buckets for no samples, and one overflow bucket for no bounds", () => {
    expect(histogram([], [10, 20]).map((b) => b.count)).toEqual([0, 0, 0]);
    expect(histogram([1, 2, 3], [])).toEqual([{ le: Number.POSITIVE_INFINITY, count: 3 }]);
  });

  it("counts NaN samples in the overflow bucket so totals still match", () => {
    expect(histogram([Number.NaN, 1], [5]).map((b) => b.count)).toEqual([1, 1]);
  });

  it("rejects bounds that are not strictly ascending and finite", () => {
    expect(() => histogram([1], [5, 2])).toThrow(RangeError);
    expect(() => histogram([1], [1, 1])).toThrow(RangeError);
    expect(() => histogram([1], [1, Number.POSITIVE_INFINITY])).toThrow(RangeError);
  });
});

describe("maxOverMin", () => {
  it("is largest over smallest, in any order", () => {
    expect(maxOverMin([10, 40, 20])).toBe(4);
    expect(maxOverMin([3, 2])).toBe(1.5);
    expect(maxOverMin([7, 7, 7])).toBe(1);
  });

  it("is 1 for one value, for all zeros and for nothing", () => {
    expect(maxOverMin([5])).toBe(1);
    expect(maxOverMin([0, 0, 0])).toBe(1);
    expect(maxOverMin([])).toBe(1);
  });

  it("is Infinity when some region has no one and another has someone", () => {
    expect(maxOverMin([0, 12])).toBe(Number.POSITIVE_INFINITY);
    expect(maxOverMin([12, 0, 3])).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("ratio", () => {
  it("is got / want", () => {
    expect(ratio(50, 100)).toBe(0.5);
    expect(ratio(100, 100)).toBe(1);
    expect(ratio(0, 10)).toBe(0);
    expect(ratio(11, 10)).toBe(1.1);
  });

  it("is 1 when nothing was wanted or got, Infinity when something came unwanted", () => {
    expect(ratio(0, 0)).toBe(1);
    expect(ratio(3, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("SampleBuffer", () => {
  it("keeps every value, in order, while growing far past its initial capacity", () => {
    const buf = new SampleBuffer(3);
    const n = 100_003;
    for (let i = 0; i < n; i++) buf.push(i * 0.5);
    expect(buf.length).toBe(n);
    const v = buf.view();
    expect(v).toHaveLength(n);
    let wrong = -1;
    for (let i = 0; i < n; i++) {
      if (v[i] !== i * 0.5) {
        wrong = i;
        break;
      }
    }
    expect(wrong).toBe(-1);
  });

  it("views only the filled part, and an earlier view keeps its values across growth", () => {
    const buf = new SampleBuffer(2);
    expect(buf.length).toBe(0);
    expect(buf.view()).toHaveLength(0);
    buf.push(1.5);
    const early = buf.view();
    buf.push(2.5);
    buf.push(3.5);
    expect(Array.from(early)).toEqual([1.5]);
    expect(Array.from(buf.view())).toEqual([1.5, 2.5, 3.5]);
    expect(summarizeLatency(buf.view()).max).toBe(3.5);
  });

  it("rejects a capacity that is not a positive integer", () => {
    expect(() => new SampleBuffer(0)).toThrow(RangeError);
    expect(() => new SampleBuffer(1.5)).toThrow(RangeError);
  });
});

describe("formatting", () => {
  it("formats percentages", () => {
    expect(formatPercent(1)).toBe("100.0 %");
    expect(formatPercent(0.98765)).toBe("98.8 %");
    expect(formatPercent(0.98765, 2)).toBe("98.77 %");
    expect(formatPercent(0)).toBe("0.0 %");
    expect(formatPercent(Number.NaN)).toBe("—");
    expect(formatPercent(Number.POSITIVE_INFINITY)).toBe("∞ %");
  });

  it("formats milliseconds, switching to seconds at one second", () => {
    expect(formatMs(12.34)).toBe("12.3 ms");
    expect(formatMs(0)).toBe("0.0 ms");
    expect(formatMs(999.9)).toBe("999.9 ms");
    expect(formatMs(999.96)).toBe("1.00 s");
    expect(formatMs(1000)).toBe("1.00 s");
    expect(formatMs(1250)).toBe("1.25 s");
    expect(formatMs(61_000)).toBe("61.00 s");
    expect(formatMs(Number.NaN)).toBe("—");
    // NaN written to JSON comes back as null; it must still read as "no data", not as -∞.
    const fromJson: { p99: number } = JSON.parse(JSON.stringify({ p99: Number.NaN }));
    expect(formatMs(fromJson.p99)).toBe("—");
  });

  it("formats bytes in decimal units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1000)).toBe("1.0 kB");
    expect(formatBytes(1_234_567)).toBe("1.2 MB");
    expect(formatBytes(999_999)).toBe("1.0 MB");
    expect(formatBytes(5_500_000_000)).toBe("5.5 GB");
    expect(formatBytes(Number.NaN)).toBe("—");
  });

  it("formats counts with en-US thousands separators", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(999)).toBe("999");
    expect(formatCount(1000)).toBe("1,000");
    expect(formatCount(1_234_567)).toBe("1,234,567");
    expect(formatCount(1234.6)).toBe("1,235");
    expect(formatCount(Number.NaN)).toBe("—");
  });
});

describe("bucketTimes (reconnect attempts per 100 ms)", () => {
  it("counts each time in [start + i·w, start + (i+1)·w), an edge in the later bucket", () => {
    // 1000 → bucket 0, 1099.9 → 0, 1100 → 1 (start inclusive, end exclusive), 1350 → 3.
    expect(bucketTimes([1000, 1099.9, 1100, 1350], 1000, 100)).toEqual([2, 1, 0, 1]);
  });
  it("drops times before the start and NaN, and keeps every other one", () => {
    expect(bucketTimes([999, Number.NaN, 1000, 1050], 1000, 100)).toEqual([2]);
    const times = [5, 17, 17, 230, 999];
    expect(bucketTimes(times, 0, 10).reduce((a, b) => a + b, 0)).toBe(times.length);
  });
  it("extends to endMs with empty buckets, but endMs opens no bucket of its own", () => {
    expect(bucketTimes([1010], 1000, 100, 1300)).toEqual([1, 0, 0]);
    expect(bucketTimes([1010], 1000, 100, 1301)).toEqual([1, 0, 0, 0]);
    expect(bucketTimes([], 1000, 100, 1200)).toEqual([0, 0]);
  });
  it("gives no buckets for no times, or only earlier ones", () => {
    expect(bucketTimes([], 0, 100)).toEqual([]);
    expect(bucketTimes([1, 2], 50, 100)).toEqual([]);
  });
  it("refuses a bucket width that is not positive and finite", () => {
    expect(() => bucketTimes([1], 0, 0)).toThrow(RangeError);
    expect(() => bucketTimes([1], 0, Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe("peakBucket", () => {
  it("finds the fullest bucket, the first on a tie", () => {
    expect(peakBucket([1, 7, 3, 7])).toEqual({ index: 1, count: 7 });
  });
  it("is index −1, count 0 for nothing", () => {
    expect(peakBucket([])).toEqual({ index: -1, count: 0 });
    expect(peakBucket([0, 0])).toEqual({ index: -1, count: 0 });
  });
});

describe("untilAll", () => {
  it("is the time from the start to the latest event", () => {
    expect(untilAll([1200, 1500, 1100], 1000)).toBe(500);
  });
  it("counts events before the start as 0", () => {
    expect(untilAll([900, 950], 1000)).toBe(0);
  });
  it("is NaN while anyone has not done it, or for no one", () => {
    expect(untilAll([1200, undefined], 1000)).toBeNaN();
    expect(untilAll([1200, Number.NaN], 1000)).toBeNaN();
    expect(untilAll([], 1000)).toBeNaN();
  });
});
