/**
 * Tests of the profile summary (profile.ts): from a small synthetic .cpuprofile with a bundle mapped
 * back to three of our files, self time per function, per file and per category adds up to the
 * samples taken; total time counts a recursive function once per sample; the focus picks functions
 * by name or by location; line ticks land on source lines; and a profile without a sample list falls
 * back on hit counts.
 */
import { describe, expect, it } from "vitest";
import { type CpuProfile, fileGroup, type ProfileNode, type SourceResolver, summarizeProfile } from "./profile.ts";

function node(id: number, functionName: string, url: string, lineNumber: number, children: number[] = []): ProfileNode {
  return { id, callFrame: { functionName, scriptId: url ? "1" : "0", url, lineNumber, columnNumber: 0 }, children };
}

/** Bundle lines 0–39 come from session.ts, 40–89 from canvas-object.ts, the rest from protocol.ts. */
const resolveBundle: SourceResolver = (url, line) => {
  if (url !== "index.js") return undefined;
  const source =
    line < 40 ? "worker/edge/session.ts" : line < 90 ? "worker/canvas/canvas-object.ts" : "worker/protocol.ts";
  return { source, line: line + 1 };
};

const encode = node(9, "encode", "index.js", 99);
encode.positionTicks = [
  { line: 101, ticks: 2 },
  { line: 102, ticks: 1 },
];

const PROFILE: CpuProfile = {
  nodes: [
    node(1, "(root)", "", -1, [2, 3, 4, 5, 8, 10]),
    node(2, "(program)", "", -1),
    node(3, "(idle)", "", -1),
    node(4, "(garbage collector)", "", -1),
    node(5, "onMessage", "index.js", 9, [6]),
    node(6, "send", "", -1),
    node(8, "flush", "index.js", 49, [9]),
    encode,
    node(10, "walk", "index.js", 19, [11]),
    node(11, "walk", "index.js", 19),
  ],
  startTime: 1_000,
  endTime: 2_500,
  //        program idle idle  js  native×3  js  js×3     gc  walk walk
  samples: [2, 3, 3, 5, 6, 6, 6, 8, 9, 9, 9, 4, 11, 11],
  // The first delta is from startTime; the rest are 100 µs apart, with one long gap (outside the lock).
  timeDeltas: [0, 100, 100, 100, 100, 100, 900, 100, 100, 100, 100, 100, 100, 100],
};

describe("summarizeProfile", () => {
  const summary = summarizeProfile(PROFILE, {
    resolve: resolveBundle,
    focus: ["onMessage", "flush", "worker/protocol.ts:100", "missing"],
  });
  const sum = (xs: { samples: number }[]) => xs.reduce((a, x) => a + x.samples, 0);

  it("takes the median spacing as the interval, not the mean (long gaps are time outside the lock)", () => {
    expect(summary.samples).toBe(14);
    expect(summary.intervalUs).toBe(100);
    expect(summary.sampledMs).toBeCloseTo(1.4);
    expect(summary.spanMs).toBe(1.5);
    // Every gap but the 900 µs one, plus the first sample's own interval.
    expect(summary.sampledMsUpper).toBeCloseTo(1.3);
  });

  it("splits the samples into idle, program, GC, JavaScript and native, adding up to all of them", () => {
    const c = summary.categories;
    expect([c.idle.samples, c.program.samples, c.gc.samples, c.javascript.samples, c.native.samples]).toEqual([
      2, 1, 1, 7, 3,
    ]);
    expect(sum(Object.values(c))).toBe(summary.samples);
    expect(c.javascript.ms).toBeCloseTo(0.7);
    expect(summary.busyMs).toBeCloseTo(1.2);
    expect(c.idle.pctOfBusy).toBeNull();
    expect(c.native.pctOfBusy).toBeCloseTo(25); // 3 of 12 busy samples
    expect(c.native.pct).toBeCloseTo((3 / 14) * 100);
  });

  it("groups self time by our source file through the resolver, adding up to every sample", () => {
    const byFile = Object.fromEntries(summary.byFile.map((f) => [f.file, f.samples]));
    expect(byFile).toEqual({
      "worker/edge/session.ts": 3, // onMessage 1 + walk 2
      "worker/canvas/canvas-object.ts": 1,
      "worker/protocol.ts": 3,
      "(native: runtime API bindings, V8 builtins)": 3,
      "(idle)": 2,
      "(program)": 1,
      "(garbage collector)": 1,
    });
    expect(sum(summary.byFile)).toBe(summary.samples);
    expect(summary.byFile.reduce((a, f) => a + f.ms, 0)).toBeCloseTo(summary.sampledMs);
    expect(summary.byFile[0]?.samples).toBe(3); // sorted, largest first
  });

  it("gives self time per function with its source location, adding up to every sample", () => {
    const self = Object.fromEntries(summary.topSelf.map((f) => [`${f.function} ${f.location}`, f.samples]));
    expect(self).toEqual({
      "encode worker/protocol.ts:100": 3,
      "send (native)": 3,
      "walk worker/edge/session.ts:20": 2,
      "(idle) (idle)": 2,
      "onMessage worker/edge/session.ts:10": 1,
      "flush worker/canvas/canvas-object.ts:50": 1,
      "(program) (program)": 1,
      "(garbage collector) (garbage collector)": 1,
    });
    expect(sum(summary.topSelf)).toBe(summary.samples);
    const encodeRow = summary.topSelf.find((f) => f.function === "encode");
    expect(encodeRow?.lines).toEqual([
      { line: "worker/protocol.ts:101", pct: (2 / 3) * 100 },
      { line: "worker/protocol.ts:102", pct: (1 / 3) * 100 },
    ]);
  });

  it("counts total time once per sample, even for a function deep in its own recursion", () => {
    const total = Object.fromEntries(summary.topTotal.map((f) => [f.function, f.samples]));
    expect(total.onMessage).toBe(4); // itself + three samples in send
    expect(total.flush).toBe(4); // itself + three in encode
    expect(total.walk).toBe(2); // two samples, walk twice on each stack
    expect(total["(root)"]).toBeUndefined();
  });

  it("reports the focus by name or by location, and zero for what never ran", () => {
    expect(summary.focus.onMessage?.samples).toBe(4);
    expect(summary.focus.flush?.samples).toBe(4);
    expect(summary.focus["worker/protocol.ts:100"]?.samples).toBe(3);
    expect(summary.focus.missing?.samples).toBe(0);
  });

  it("puts line ticks on source lines across functions", () => {
    expect(summary.topLines.map((l) => [l.line, l.samples])).toEqual([
      ["worker/protocol.ts:101", 2],
      ["worker/protocol.ts:102", 1],
    ]);
  });

  it("without a resolver, keeps the script's own positions", () => {
    const plain = summarizeProfile(PROFILE);
    expect(plain.byFile.find((f) => f.file === "index.js")?.samples).toBe(7);
    expect(plain.topSelf.find((f) => f.function === "encode")?.location).toBe("index.js:100");
  });

  it("falls back on hit counts when the profile has no sample list", () => {
    const hits = summarizeProfile({
      nodes: [
        { ...node(1, "(root)", "", -1, [2, 3]) },
        { ...node(2, "(idle)", "", -1), hitCount: 6 },
        { ...node(3, "work", "file:///x/node_modules/hono/dist/hono.js", 4), hitCount: 4 },
      ],
      startTime: 0,
      endTime: 1_000,
    });
    expect(hits.samples).toBe(10);
    expect(hits.intervalUs).toBe(100); // the span over the samples
    expect(hits.byFile.map((f) => [f.file, f.samples])).toEqual([
      ["(idle)", 6],
      ["node_modules/hono", 4],
    ]);
  });
});

describe("fileGroup", () => {
  it("collapses node_modules to the package, scoped or not, and keeps our files", () => {
    expect(fileGroup("node_modules/hono/dist/router.js")).toBe("node_modules/hono");
    expect(fileGroup("../node_modules/@cloudflare/kv/x.js")).toBe("node_modules/@cloudflare/kv");
    expect(fileGroup("worker/edge/session.ts")).toBe("worker/edge/session.ts");
  });
});
