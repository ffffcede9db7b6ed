/**
 * A tiny smoke of `npm run bench` (--quick): the harness starts the project and the baseline, runs
 * one small step on each, and writes the documented JSON. Figures are not judged here — benchmarks
 * never gate CI on speed — only that the harness works and its numbers add up.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

it("npm run bench -- --quick measures the project and the baseline and writes the report", () => {
  const out = join(mkdtempSync(join(tmpdir(), "bench-")), "bench.json");
  const run = spawnSync(
    join(ROOT, "node_modules/.bin/tsx"),
    ["loadtest/bench/run.ts", "--quick", "--systems", "project,baseline", "--json", out],
    { cwd: ROOT, encoding: "utf8", timeout: 240_000 },
  );
  expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
  const report: unknown = JSON.parse(readFileSync(out, "utf8"));
  expect(report).toMatchObject({
    capacity: { project: { C20: expect.any(Number) } },
    baseline: { C20: expect.any(Number) },
    capacityRatio: expect.any(Number),
  });
  const systems = Reflect.get(report as object, "systems");
  expect(Array.isArray(systems) && systems.map((s: { system: string }) => s.system)).toEqual(["project", "baseline"]);
  type Step = { deliveryRatio: number; sent: number; placementsPerCanvasMessage?: number; pass: boolean };
  const lowerBounds = Reflect.get(report as object, "lowerBounds");
  for (const s of systems as { system: string; byClients: { steps: Step[] }[] }[]) {
    // The one-step ladder passed means "at least 100/s": a lower bound, flagged as one.
    expect(lowerBounds.includes(`${s.system}.C20`)).toBe(s.byClients[0]?.steps[0]?.pass === true);
    const step = s.byClients[0]?.steps[0];
    expect(step?.sent).toBe(150); // 100 placements/s for 1.5 s
    expect(step?.deliveryRatio).toBe(1);
    // The canvas's own counters: every placement arrived, in at most one message each (fan-in).
    if (s.system === "project") expect(step?.placementsPerCanvasMessage).toBeGreaterThanOrEqual(1);
    else expect(step?.placementsPerCanvasMessage).toBeUndefined();
  }
}, 300_000);
