/**
 * @module stats
 * The arithmetic behind a load-test report: percentiles, latency summaries and histograms, the
 * evenness and delivery ratios, the number formats the terminal table and the HTML page share, and a
 * growable sample buffer. Pure functions, no I/O and no clocks, so every figure in a report can be
 * checked by hand in a unit test (stats.test.ts).
 *
 * "No data" is NaN, never 0: a p99 of 0 ms from a run that delivered nothing would read as a perfect
 * result, and NaN fails every `<=` threshold comparison instead. The formatters print NaN as "—".
 */

import type { LatencySummary } from "./report-types.ts";

type Samples = Float64Array | readonly number[];

/**
 * Nearest-rank percentile of an ascending-sorted array: the smallest sample such that at least `p` %
 * of the samples are less than or equal to it, i.e. `sorted[ceil(p/100 × n) − 1]`, with rank 1 for
 * p = 0 (so p = 0 is the minimum and p = 100 the maximum). It never interpolates: every percentile is
 * a latency some client really saw. Empty input gives NaN. A `p` outside [0, 100] is a caller's bug
 * and throws.
 */
export function percentile(sorted: Samples, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  // p × n first, then ÷ 100: for integer p and n the product is exact, so 95 % of 100 is rank 95 and
  // not the 96 that (0.95 × 100)'s rounding error could give after the ceiling.
  const rank = Math.min(n, Math.max(1, Math.ceil((p * n) / 100)));
  return sorted[rank - 1] ?? Number.NaN;
}

/**
 * Count, nearest-rank p50/p95/p99, max and mean of unsorted samples. The input is not modified (a
 * copy is sorted; Float64Array's own sort is numeric and quick for millions of samples). With no
 * samples, count is 0 and every other field is NaN (see the module note on why not 0).
 */
export function summarizeLatency(samples: Samples): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const count = sorted.length;
  if (count === 0) {
    return {
      count: 0,
      p50: Number.NaN,
      p95: Number.NaN,
      p99: Number.NaN,
      max: Number.NaN,
      mean: Number.NaN,
    };
  }
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: percentile(sorted, 100),
    mean: sum / count,
  };
}

/** Histogram bucket upper bounds for delivery latency, in ms: fine where a healthy run lands. */
export const DEFAULT_LATENCY_BOUNDS_MS: readonly number[] = [
  1, 2, 5, 10, 15, 20, 30, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000,
];

/**
 * Counts samples per bucket. Bucket i holds the samples with `bounds[i-1] < v <= bounds[i]` (upper
 * bounds inclusive, as Prometheus' `le`); a last bucket `le: Infinity` holds everything above the last
 * bound, and also any NaN sample, so the counts always add up to `samples.length`. `bounds` must be
 * strictly ascending and finite.
 */
export function histogram(samples: Samples, bounds: readonly number[]): { le: number; count: number }[] {
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i] ?? Number.NaN;
    const prev = i === 0 ? Number.NEGATIVE_INFINITY : (bounds[i - 1] ?? Number.NaN);
    if (!Number.isFinite(b) || !(b > prev)) throw new RangeError("histogram bounds must be finite and ascending");
  }
  const counts = new Array<number>(bounds.length + 1).fill(0);
  const last = bounds.length;
  for (const v of samples) {
    // Binary search for the first bound >= v; `!(v <= bound)` also sends NaN past the end.
    let lo = 0;
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v <= (bounds[mid] ?? Number.NaN)) hi = mid;
      else lo = mid + 1;
    }
    counts[lo] = (counts[lo] ?? 0) + 1;
  }
  return counts.map((count, i) => ({ le: bounds[i] ?? Number.POSITIVE_INFINITY, count }));
}

/**
 * Largest count over smallest: 1 is perfectly even. Edge cases, chosen so the figure stays a
 * meaningful "how uneven" number: one value → 1; nothing at all (empty, or all zeros) → 1, since
 * nothing is unevenly spread; smallest 0 with largest above 0 → Infinity (a region got no one).
 */
export function maxOverMin(counts: readonly number[]): number {
  if (counts.length === 0) return 1;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const c of counts) {
    if (c < min) min = c;
    if (c > max) max = c;
  }
  if (max === 0) return 1;
  if (min === 0) return Number.POSITIVE_INFINITY;
  return max / min;
}

/**
 * got / want, for delivery and presence ratios. Nothing wanted and nothing got is a perfect 1, not
 * 0/0 = NaN; something got when nothing was wanted is Infinity (it fails an "= 100 %" check, as it
 * should).
 */
export function ratio(got: number, want: number): number {
  if (want === 0) return got === 0 ? 1 : got > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return got / want;
}

const DASH = "—";

/**
 * Non-finite values in every formatter: infinities are spelled as such, anything else is "no data" —
 * NaN, and also the null that NaN becomes when a report has been through JSON.
 */
function nonFinite(v: number, unit: string): string {
  if (v === Number.POSITIVE_INFINITY) return `∞${unit}`;
  if (v === Number.NEGATIVE_INFINITY) return `-∞${unit}`;
  return DASH;
}

/** A ratio as a percentage: 1 → "100.0 %". NaN → "—", Infinity → "∞ %". */
export function formatPercent(r: number, digits = 1): string {
  if (!Number.isFinite(r)) return nonFinite(r, " %");
  return `${(r * 100).toFixed(digits)} %`;
}

/** Milliseconds: "12.3 ms" below a second, "1.25 s" from one second on. NaN → "—". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return nonFinite(ms, " ms");
  // Decide on the rounded value, so 999.96 prints "1.00 s" rather than "1000.0 ms".
  if (Math.abs(Math.round(ms * 10) / 10) < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

const BYTE_UNITS = ["B", "kB", "MB", "GB", "TB", "PB"] as const;

/** Bytes in decimal (SI) units: 512 → "512 B", 1_234_567 → "1.2 MB". NaN → "—". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return nonFinite(n, " B");
  const sign = n < 0 ? "-" : "";
  let v = Math.abs(n);
  if (v < 1000) return `${sign}${Math.round(v)} B`;
  let unit = 0;
  // Step up while the value would print as 1000.0 or more, so 999_999 is "1.0 MB", not "1000.0 kB".
  while (unit < BYTE_UNITS.length - 1 && Math.round(v * 10) / 10 >= 1000) {
    v /= 1000;
    unit++;
  }
  return `${sign}${v.toFixed(1)} ${BYTE_UNITS[unit] ?? ""}`;
}

const COUNT_FORMAT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** A count with thousands separators, rounded to an integer: 1234567 → "1,234,567". NaN → "—". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return nonFinite(n, "");
  return COUNT_FORMAT.format(n);
}

/**
 * An append-only list of numbers in a Float64Array that doubles when full: millions of latency samples
 * cost a few reallocations in total instead of a boxed number each, and the filled part can be handed
 * to summarizeLatency or histogram without copying.
 */
export class SampleBuffer {
  private data: Float64Array;
  private filled = 0;

  constructor(initialCapacity = 4096) {
    if (!Number.isInteger(initialCapacity) || initialCapacity < 1) {
      throw new RangeError("initial capacity must be a positive integer");
    }
    this.data = new Float64Array(initialCapacity);
  }

  push(v: number): void {
    if (this.filled === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.filled++] = v;
  }

  get length(): number {
    return this.filled;
  }

  /**
   * The filled part, sharing memory with the buffer (no copy). Later pushes never change the values a
   * view already shows, but writing into the view writes into the buffer, so sort a copy.
   */
  view(): Float64Array {
    return this.data.subarray(0, this.filled);
  }
}

/**
 * Counts event times (ms, any clock) into fixed buckets from `startMs`: bucket i holds the times in
 * [startMs + i·bucketMs, startMs + (i+1)·bucketMs) — start inclusive, end exclusive, so an event on
 * an edge is counted once, in the later bucket. Times before `startMs` are not counted; the buckets
 * run to the latest time (or to `endMs` if given, to show a quiet tail). NaN times are skipped. No
 * times gives no buckets. `bucketMs` must be positive and finite.
 */
export function bucketTimes(times: Samples, startMs: number, bucketMs: number, endMs?: number): number[] {
  if (!(bucketMs > 0) || !Number.isFinite(bucketMs)) throw new RangeError("bucketMs must be positive and finite");
  let last = endMs === undefined ? Number.NEGATIVE_INFINITY : endMs;
  for (const t of times) if (t > last) last = t;
  if (!(last >= startMs)) return [];
  // endMs itself opens no bucket of its own: [start, end) needs ceil((end − start) / w) buckets; the
  // latest event, at t, needs floor((t − start) / w) + 1.
  let length = 0;
  for (const t of times) if (t >= startMs) length = Math.max(length, Math.floor((t - startMs) / bucketMs) + 1);
  if (endMs !== undefined) length = Math.max(length, Math.ceil((endMs - startMs) / bucketMs));
  const counts = new Array<number>(length).fill(0);
  for (const t of times) {
    if (!(t >= startMs)) continue;
    const i = Math.floor((t - startMs) / bucketMs);
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts;
}

/** The fullest bucket: its index and count (index −1 and count 0 for no buckets; the first on a tie). */
export function peakBucket(counts: readonly number[]): { index: number; count: number } {
  let index = -1;
  let count = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] ?? 0;
    if (c > count) {
      index = i;
      count = c;
    }
  }
  return { index, count };
}

/**
 * Milliseconds from `fromMs` until the last of `times` — "until every client had done it" — or NaN
 * if any has not (undefined or NaN) or there are none. A time before `fromMs` counts as 0.
 */
export function untilAll(times: readonly (number | undefined)[], fromMs: number): number {
  if (times.length === 0) return Number.NaN;
  let latest = fromMs;
  for (const t of times) {
    if (t === undefined || Number.isNaN(t)) return Number.NaN;
    if (t > latest) latest = t;
  }
  return latest - fromMs;
}
