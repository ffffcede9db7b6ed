/**
 * @module bench/profile
 * `npm run bench:profile`: a CPU profile of the worker's isolate under load — where the runtime's time
 * per placement and per delivered frame goes, our JavaScript against the runtime's own work.
 *
 * It starts the project's stack (one `wrangler dev`, as `npm start`, rate limits lifted), connects C
 * clients (20 that decode every frame, the rest light, as `npm run bench` does), places R pixels/s,
 * and after a warm-up measures two windows of D seconds each: one without the profiler (the
 * reference: placements, frames, runtime CPU from /proc, latency) and one with it. The profile comes
 * from V8's sampling profiler through the DevTools protocol on the inspector port that `wrangler dev`
 * serves (workerd implements Profiler.enable/setSamplingInterval/start/stop itself, over one
 * `v8::CpuProfiler` per isolate). The edge and the Canvas Durable Object are one script, so one isolate:
 * one profile holds both.
 *
 * Reading it: V8 takes a sample only while the sampled thread holds the isolate's lock, so the profile
 * covers the isolate's busy time, not the wall clock — gaps between samples are time the thread spent
 * outside the isolate (the event loop, socket I/O, other services). Self time is therefore counted in
 * samples × the sampling interval actually achieved (the median spacing of consecutive samples), not
 * in the raw gaps. "(program)" is time under the lock with no JavaScript on the stack — the runtime's
 * C++ delivering events and messages; functions without a script URL are native: the runtime's API
 * bindings (`send`, `getWebSockets`, …) and V8 builtins. Bundle positions are mapped back to our
 * sources through the bundle's source map, read while the stack runs (wrangler deletes it on exit).
 *
 * Flags: --clients C --rate R --warmup S --duration D --interval µs --out FILE.cpuprofile --json FILE.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { basename, dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { LoadClient, liveUrlOf, newLedger, type Target } from "../client.ts";
import { startStack } from "../stack.ts";
import { SampleBuffer, summarizeLatency } from "../stats.ts";
import { sleep, UNLIMITED_VARS } from "./common.ts";

const ROOT = resolve(import.meta.dirname, "../..");

// ---------------------------------------------------------------------------------------------------
// The profile format (DevTools protocol, Profiler.Profile) and its summary: pure, tested.

export interface CallFrame {
  functionName: string;
  scriptId: string;
  url: string;
  /** 0-based; -1 when unknown. */
  lineNumber: number;
  columnNumber: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
  /** Samples per line (1-based, in the script) where this node was the leaf. */
  positionTicks?: { line: number; ticks: number }[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds. */
  startTime: number;
  endTime: number;
  /** Node id of each sample. */
  samples?: number[];
  /** Microseconds from the previous sample (the first from startTime). */
  timeDeltas?: number[];
}

/** Maps a position in a script (0-based) to our source: a path relative to the repository, 1-based line. */
export type SourceResolver = (
  url: string,
  line: number,
  column: number,
) => { source: string; line: number } | undefined;

export type Category = "idle" | "program" | "gc" | "javascript" | "native";

export interface Share {
  samples: number;
  ms: number;
  /** Of every sample. */
  pct: number;
  /** Of the busy samples (all but "(idle)"); null for idle itself. */
  pctOfBusy: number | null;
}

export interface FunctionShare extends Share {
  function: string;
  /** source:line (1-based) of the function's start, or "(native)" / a V8 category. */
  location: string;
  category: Category;
  /** For self time: the lines it was spent on (source:line, share of this function's line ticks). */
  lines?: { line: string; pct: number }[];
}

export interface FileShare extends Share {
  file: string;
}

export interface ProfileSummary {
  samples: number;
  /** The sampling interval achieved: median spacing of consecutive samples, µs. */
  intervalUs: number;
  /** samples × intervalUs: the isolate time the profile covers, ms. */
  sampledMs: number;
  /** The busy part of it (all but "(idle)"), ms. */
  busyMs: number;
  /**
   * A generous bound on the isolate time: the sum of every gap between samples up to 3 × the interval
   * (a short gap is taken as time under the lock with a missed tick; a long one as time outside it).
   */
  sampledMsUpper: number;
  /** Wall-clock span of the profile, ms. */
  spanMs: number;
  categories: Record<Category, Share>;
  /** Self time per source file (node_modules collapsed to the package), V8 categories, and native. */
  byFile: FileShare[];
  /** Functions by self time. */
  topSelf: FunctionShare[];
  /** Functions by total time (self + callees; a function counted once per sample however deep it recurs). */
  topTotal: FunctionShare[];
  /** Source lines by self time, over every JavaScript function (from the line ticks of the profile). */
  topLines: (Share & { line: string })[];
  /**
   * Total time of chosen functions (our handlers on the hot path), by function name (summed over its
   * definitions) or by location (source:line of the function's start).
   */
  focus: Record<string, Share>;
}

export interface SummaryOptions {
  resolve?: SourceResolver;
  /** Rows in topSelf and topTotal. */
  top?: number;
  /** Functions whose total time to report, by name or by location (source:line). */
  focus?: readonly string[];
  /** Override the estimated sampling interval, µs. */
  intervalUs?: number;
}

const V8_CATEGORIES: Readonly<Record<string, Category>> = {
  "(idle)": "idle",
  "(program)": "program",
  "(garbage collector)": "gc",
  "(root)": "program",
};

/** The group a source file counts under: node_modules collapse to their package. */
export function fileGroup(source: string): string {
  const at = source.lastIndexOf("node_modules/");
  if (at < 0) return source;
  const rest = source.slice(at + "node_modules/".length).split("/");
  const name = rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1] ?? ""}` : (rest[0] ?? "");
  return `node_modules/${name}`;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

interface NodeInfo {
  key: string;
  name: string;
  location: string;
  file: string;
  category: Category;
  parent: number | undefined;
}

/** Self and total time per function, per file and per category, from a .cpuprofile. */
export function summarizeProfile(profile: CpuProfile, options: SummaryOptions = {}): ProfileSummary {
  const top = options.top ?? 20;
  const byId = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);

  const info = new Map<number, NodeInfo>();
  for (const n of profile.nodes) {
    const { functionName, url, lineNumber, columnNumber } = n.callFrame;
    const v8 = V8_CATEGORIES[functionName];
    const name = functionName || "(anonymous)";
    let category: Category;
    let location: string;
    let file: string;
    if (v8 && url === "") {
      category = v8;
      location = functionName;
      file = functionName;
    } else if (url === "") {
      category = "native";
      location = "(native)";
      file = "(native: runtime API bindings, V8 builtins)";
    } else {
      category = "javascript";
      const mapped = lineNumber >= 0 ? options.resolve?.(url, lineNumber, columnNumber) : undefined;
      const source = mapped?.source ?? url;
      location = `${source}:${mapped?.line ?? lineNumber + 1}`;
      file = fileGroup(source);
    }
    info.set(n.id, { key: `${name} ${location}`, name, location, file, category, parent: parentOf.get(n.id) });
  }

  // Samples per node: from the sample list when there is one, else from the hit counts.
  const counts = new Map<number, number>();
  if (profile.samples && profile.samples.length > 0) {
    for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  } else {
    for (const n of profile.nodes) if (n.hitCount) counts.set(n.id, n.hitCount);
  }
  let samples = 0;
  for (const c of counts.values()) samples += c;

  const spanUs = Math.max(0, profile.endTime - profile.startTime);
  // Gaps between samples include time outside the isolate lock (no samples are taken then), so the
  // typical spacing, not the mean, is the interval each sample stands for.
  const deltas = (profile.timeDeltas ?? []).slice(1).filter((d) => d > 0);
  const intervalUs = options.intervalUs ?? (deltas.length > 0 ? median(deltas) : samples > 0 ? spanUs / samples : 0);
  const ms = (n: number) => (n * intervalUs) / 1000;

  type Row = { info: NodeInfo; samples: number; lines?: Map<string, number> };
  const self = new Map<string, Row>();
  const total = new Map<string, Row>();
  const files = new Map<string, number>();
  const categories: Record<Category, number> = { idle: 0, program: 0, gc: 0, javascript: 0, native: 0 };
  const focusNames = new Set(options.focus ?? []);
  const lineTicks = new Map<string, number>();
  const focus = new Map<string, number>();
  for (const [id, count] of counts) {
    const node = info.get(id);
    if (!node || !byId.has(id)) continue;
    const s = self.get(node.key) ?? { info: node, samples: 0, lines: new Map<string, number>() };
    s.samples += count;
    self.set(node.key, s);
    const { url } = byId.get(id)?.callFrame ?? { url: "" };
    for (const tick of byId.get(id)?.positionTicks ?? []) {
      // The last mapping on the line: the statement the line holds.
      const mapped = options.resolve?.(url, tick.line - 1, Number.MAX_SAFE_INTEGER);
      const line = mapped ? `${mapped.source}:${mapped.line}` : `${url}:${tick.line}`;
      s.lines?.set(line, (s.lines.get(line) ?? 0) + tick.ticks);
      if (node.category === "javascript") lineTicks.set(line, (lineTicks.get(line) ?? 0) + tick.ticks);
    }
    files.set(node.file, (files.get(node.file) ?? 0) + count);
    categories[node.category] += count;
    const seenKeys = new Set<string>();
    const seenFocus = new Set<string>();
    for (let at: NodeInfo | undefined = node; at; at = at.parent === undefined ? undefined : info.get(at.parent)) {
      if (!seenKeys.has(at.key)) {
        seenKeys.add(at.key);
        const t = total.get(at.key) ?? { info: at, samples: 0 };
        t.samples += count;
        total.set(at.key, t);
      }
      if (at.category !== "javascript") continue;
      for (const wanted of [at.name, at.location]) {
        if (!focusNames.has(wanted) || seenFocus.has(wanted)) continue;
        seenFocus.add(wanted);
        focus.set(wanted, (focus.get(wanted) ?? 0) + count);
      }
    }
  }

  const busy = samples - categories.idle;
  const share = (n: number, isIdle = false): Share => ({
    samples: n,
    ms: ms(n),
    pct: samples > 0 ? (n / samples) * 100 : 0,
    pctOfBusy: isIdle ? null : busy > 0 ? (n / busy) * 100 : 0,
  });
  const hotLines = (lines: Map<string, number> | undefined) => {
    const sum = [...(lines?.values() ?? [])].reduce((a, b) => a + b, 0);
    if (!lines || sum === 0) return undefined;
    return [...lines.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([line, ticks]) => ({ line, pct: (ticks / sum) * 100 }));
  };
  const functionRows = (m: Map<string, Row>) =>
    [...m.values()]
      .filter((r) => r.info.key !== "(root) (root)")
      .sort((a, b) => b.samples - a.samples)
      .slice(0, top)
      .map(
        (r): FunctionShare => ({
          function: r.info.name,
          location: r.info.location,
          category: r.info.category,
          ...share(r.samples, r.info.category === "idle"),
          ...(hotLines(r.lines) ? { lines: hotLines(r.lines) } : {}),
        }),
      );

  return {
    samples,
    intervalUs,
    sampledMs: ms(samples),
    busyMs: ms(busy),
    sampledMsUpper: deltas.filter((d) => d <= 3 * intervalUs).reduce((a, d) => a + d, intervalUs) / 1000,
    spanMs: spanUs / 1000,
    categories: {
      idle: share(categories.idle, true),
      program: share(categories.program),
      gc: share(categories.gc),
      javascript: share(categories.javascript),
      native: share(categories.native),
    },
    byFile: [...files.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([file, n]) => ({ file, ...share(n, file === "(idle)") })),
    topSelf: functionRows(self),
    topTotal: functionRows(total),
    topLines: [...lineTicks.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([line, n]) => ({ line, ...share(n) })),
    focus: Object.fromEntries([...focusNames].map((name) => [name, share(focus.get(name) ?? 0)])),
  };
}

// ---------------------------------------------------------------------------------------------------
// The run: stack, load, inspector.

/** source:line of the first line of `file` (relative to the repository) that contains `needle`. */
function lineOf(file: string, needle: string): string {
  const index = readFileSync(resolve(ROOT, file), "utf8")
    .split("\n")
    .findIndex((l) => l.includes(needle));
  if (index < 0) throw new Error(`${needle} not found in ${file}`);
  return `${file}:${index + 1}`;
}

/**
 * Our handlers on the hot path. A placement: the edge's listener for client frames (fromClient and
 * the send upstream), then the object's webSocketMessage. A frame: the object's flush (encode, store,
 * one send per channel), then per channel the edge's listener for canvas frames (fromCanvas and the
 * send to the client). The edge's listeners are arrows, found by their line: TurboFan inlines the
 * methods they call, so a method's name alone can miss its time.
 */
function hotPath(): { placement: string[]; frame: string[] } {
  return {
    placement: [lineOf("worker/edge/session.ts", "this.fromClient(event.data)"), "webSocketMessage"],
    frame: ["flush", lineOf("worker/edge/session.ts", "this.fromCanvas(event.data)")],
  };
}

/** A minimal DevTools-protocol client over one WebSocket. */
class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<string, (params: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      const message: unknown = JSON.parse(data.toString());
      if (typeof message !== "object" || message === null) return;
      const m = message as { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
      if (typeof m.id === "number" && this.pending.has(m.id)) {
        const waiter = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) waiter?.reject(new Error(`inspector: ${JSON.stringify(m.error)}`));
        // workerd answers the Profiler commands it implements itself by echoing the command, with a
        // result only where there is one (Profiler.stop).
        else waiter?.resolve(m.result ?? {});
      } else if (typeof m.method === "string") {
        this.listeners.get(m.method)?.(m.params);
      }
    });
    ws.on("close", () => {
      for (const w of this.pending.values()) w.reject(new Error("inspector: connection closed"));
      this.pending.clear();
    });
  }

  static connect(url: string): Promise<Inspector> {
    return new Promise((resolveConnect, reject) => {
      // No Origin and no User-Agent: the dev inspector proxy accepts such a client as a local tool.
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once("open", () => resolveConnect(new Inspector(ws)));
      ws.once("error", reject);
    });
  }

  send(method: string, params: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolveSend, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`inspector: no answer to ${method} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolveSend(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  on(method: string, listener: (params: unknown) => void): void {
    this.listeners.set(method, listener);
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * The inspector port of a stack: `startStack` picks a free one and passes it to wrangler as
 * `--inspector-port`, so it is on the wrangler process's command line.
 */
function inspectorPortOf(pid: number): number {
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  const at = args.indexOf("--inspector-port");
  const port = Number(args[at + 1]);
  if (at < 0 || !Number.isInteger(port)) throw new Error(`no --inspector-port in wrangler's command line: ${args}`);
  return port;
}

interface DevToolsTarget {
  title?: string;
  webSocketDebuggerUrl?: string;
}

/** The worker's DevTools target from /json/list: the one user worker wrangler dev proxies. */
async function workerTarget(port: number): Promise<string> {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as DevToolsTarget[];
  const usable = list.filter((t) => typeof t.webSocketDebuggerUrl === "string");
  const target = usable.find((t) => t.title?.includes("pixel-playground")) ?? usable[0];
  if (!target?.webSocketDebuggerUrl) throw new Error(`no worker target on the inspector: ${JSON.stringify(list)}`);
  return target.webSocketDebuggerUrl;
}

/**
 * Source maps of the scripts the isolate has parsed, from Debugger.scriptParsed (the debugger is on
 * only for this, before any load). The profile names a script by its resource name ("index.js"), the
 * debugger by its file URL: both keys resolve.
 */
async function sourceResolver(inspector: Inspector): Promise<{ resolve: SourceResolver; scripts: string[] }> {
  const parsed: { url: string; sourceMapURL: string }[] = [];
  inspector.on("Debugger.scriptParsed", (params) => {
    const p = params as { url?: unknown; sourceMapURL?: unknown };
    if (typeof p.url === "string" && typeof p.sourceMapURL === "string" && p.sourceMapURL !== "") {
      parsed.push({ url: p.url, sourceMapURL: p.sourceMapURL });
    }
  });
  await inspector.send("Debugger.enable");
  await sleep(500);
  await inspector.send("Debugger.disable");
  const maps = new Map<string, { map: SourceMap; dir: string }>();
  for (const { url, sourceMapURL } of parsed) {
    if (!url.startsWith("file:")) continue;
    try {
      const mapUrl = new URL(sourceMapURL, url);
      if (mapUrl.protocol !== "file:") continue;
      const path = fileURLToPath(mapUrl);
      const entry = { map: new SourceMap(JSON.parse(readFileSync(path, "utf8"))), dir: dirname(path) };
      maps.set(url, entry);
      maps.set(basename(fileURLToPath(url)), entry);
    } catch {
      // No readable map: that script's functions keep bundle positions.
    }
  }
  const resolveSource: SourceResolver = (url, line, column) => {
    const entry = maps.get(url);
    if (!entry) return undefined;
    const found = entry.map.findEntry(line, column);
    // findEntry answers with the nearest mapping before the position, which may be on an earlier line.
    if (!("originalSource" in found) || found.generatedLine !== line) return undefined;
    const original = found.originalSource.startsWith("file:")
      ? fileURLToPath(found.originalSource)
      : resolve(entry.dir, found.originalSource);
    return { source: relative(ROOT, original), line: found.originalLine + 1 };
  };
  return { resolve: resolveSource, scripts: parsed.map((p) => p.url) };
}

interface ThreadCpu {
  tid: number;
  name: string;
  cpuMs: number;
}

interface ProcessCpu {
  pid: number;
  command: string;
  cpuMs: number;
  threads: ThreadCpu[];
}

/** utime + stime of a /proc stat line, ms (USER_HZ 100), and its process group. */
function parseStat(stat: string): { cpuMs: number; pgrp: number } {
  // Fields after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / 100, pgrp: Number(fields[2]) };
}

/** CPU per process of a process group (wrangler's Node and its workerd processes), from /proc. */
function processesOf(pgid: number): ProcessCpu[] {
  const out: ProcessCpu[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { cpuMs, pgrp } = parseStat(readFileSync(`/proc/${entry}/stat`, "utf8"));
      if (pgrp !== pgid) continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      const program = basename(args[0] ?? "?");
      const script = program === "node" ? ` ${basename(args[1] ?? "")}` : "";
      const threads: ThreadCpu[] = [];
      for (const tid of readdirSync(`/proc/${entry}/task`)) {
        try {
          const name = readFileSync(`/proc/${entry}/task/${tid}/comm`, "utf8").trim();
          const thread = parseStat(readFileSync(`/proc/${entry}/task/${tid}/stat`, "utf8"));
          threads.push({ tid: Number(tid), name, cpuMs: thread.cpuMs });
        } catch {
          // gone meanwhile
        }
      }
      out.push({ pid: Number(entry), command: `${program}${script}`, cpuMs, threads });
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a.pid - b.pid);
}

interface WindowResult {
  seconds: number;
  placements: number;
  framesDelivered: number;
  runtimeCpuMs: number;
  runtimeCpuPct: number;
  /** CPU over the window per process of the stack, with its busiest threads. */
  processes: ProcessCpu[];
  generatorCpuPct: number;
  p50: number;
  p99: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: "string", default: "200" },
      rate: { type: "string", default: "2000" },
      warmup: { type: "string", default: "5" },
      duration: { type: "string", default: "5" },
      interval: { type: "string", default: "100" },
      top: { type: "string", default: "20" },
      out: { type: "string", default: "docs/bench/profile.cpuprofile" },
      json: { type: "string" },
    },
  });
  const clientCount = Number(values.clients);
  const rate = Number(values.rate);
  const warmupS = Number(values.warmup);
  const durationS = Number(values.duration);
  const samplingUs = Number(values.interval);
  const monitors = Math.min(20, clientCount);

  const stack = await startStack({ vars: UNLIMITED_VARS });
  const clients: LoadClient[] = [];
  let inspector: Inspector | undefined;
  try {
    const port = inspectorPortOf(stack.pid);
    inspector = await Inspector.connect(await workerTarget(port));
    const sources = await sourceResolver(inspector);
    console.log(`inspector on ${port}; scripts with source maps: ${sources.scripts.join(", ") || "none"}`);

    const target: Target = { name: "local", wsUrl: stack.wsUrl, liveUrl: liveUrlOf(stack.wsUrl), alive: true };
    const capacity = Math.ceil(rate * (warmupS + 2 * durationS + 10));
    let latency = new SampleBuffer();
    const events = { latency: (_region: string, ms: number) => latency.push(ms) };
    for (let i = 0; i < clientCount; i++)
      clients.push(new LoadClient(i, target, [target], newLedger(1, 1), events, i >= monitors));
    for (let i = 0; i < clients.length; i += 100) await Promise.all(clients.slice(i, i + 100).map((c) => c.connect()));
    const width = clients[0]?.hello?.width ?? 1000;
    const run = newLedger(width, capacity);
    for (const c of clients) c.useLedger(run);
    await sleep(1000);

    // Placements at `rate`/s, round-robin over the clients, until stopped.
    let sent = 0;
    let placing = true;
    const started = performance.now();
    const placer = (async () => {
      let next = 0;
      while (placing && sent < capacity) {
        const due = Math.min(capacity, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
        for (; sent < due; sent++) clients[next++ % clients.length]?.place(sent);
        await sleep(5);
      }
    })();

    const measure = async (seconds: number): Promise<WindowResult> => {
      latency = new SampleBuffer();
      const frames = () => clients.reduce((a, c) => a + c.frames, 0);
      const before = { at: performance.now(), sent, frames: frames(), procs: processesOf(stack.pid) };
      const gen = process.cpuUsage();
      await sleep(seconds * 1000);
      const after = { at: performance.now(), sent, frames: frames(), procs: processesOf(stack.pid) };
      const genUsed = process.cpuUsage(gen);
      const wallMs = after.at - before.at;
      const processes = after.procs.map((p): ProcessCpu => {
        const was = before.procs.find((q) => q.pid === p.pid);
        const threads = p.threads
          .map((t) => ({ ...t, cpuMs: t.cpuMs - (was?.threads.find((u) => u.tid === t.tid)?.cpuMs ?? 0) }))
          .filter((t) => t.cpuMs > 0)
          .sort((a, b) => b.cpuMs - a.cpuMs)
          .slice(0, 6);
        return { ...p, cpuMs: p.cpuMs - (was?.cpuMs ?? 0), threads };
      });
      const runtimeCpuMs = processes.reduce((a, p) => a + p.cpuMs, 0);
      const lat = summarizeLatency(latency.view());
      return {
        seconds: wallMs / 1000,
        placements: after.sent - before.sent,
        framesDelivered: after.frames - before.frames,
        runtimeCpuMs,
        runtimeCpuPct: (runtimeCpuMs / wallMs) * 100,
        processes,
        generatorCpuPct: ((genUsed.user + genUsed.system) / 1000 / wallMs) * 100,
        p50: lat.p50,
        p99: lat.p99,
      };
    };

    // The warm-up runs under the profiler (its profile is dropped): V8 keeps detailed line positions and
    // inlining data only for code optimised while a profiler runs, and the hot code is optimised now.
    console.log(`${clientCount} clients, ${rate} placements/s: warm-up ${warmupS} s (profiled, dropped)`);
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: samplingUs });
    await inspector.send("Profiler.start");
    await sleep(warmupS * 1000);
    await inspector.send("Profiler.stop");
    console.log(`reference window (no profiler), ${durationS} s`);
    const reference = await measure(durationS);

    await inspector.send("Profiler.start");
    console.log(`profiling, ${durationS} s at ${samplingUs} µs`);
    const profiled = await measure(durationS);
    const stopped = (await inspector.send("Profiler.stop")) as { profile?: CpuProfile };
    await inspector.send("Profiler.disable").catch(() => {});
    placing = false;
    await placer;
    if (!stopped.profile) throw new Error("Profiler.stop returned no profile");
    const profile = stopped.profile;

    writeFileSync(values.out, JSON.stringify(profile));
    const bytes = statSync(values.out).size;
    const hot = hotPath();
    const summary = summarizeProfile(profile, {
      resolve: sources.resolve,
      top: Number(values.top),
      focus: [...hot.placement, ...hot.frame, "fromClient", "fromCanvas"],
    });
    const handlerMs = (keys: readonly string[]) => keys.reduce((a, k) => a + (summary.focus[k]?.ms ?? 0), 0);
    const perPlacement = {
      runtimeCpuMs: profiled.runtimeCpuMs / Math.max(1, profiled.placements),
      isolateBusyMs: summary.busyMs / Math.max(1, profiled.placements),
      /** Our placement handlers, total time (edge listener for client frames + object webSocketMessage). */
      handlersMs: handlerMs(hot.placement) / Math.max(1, profiled.placements),
    };
    const perFrame = {
      runtimeCpuMs: profiled.runtimeCpuMs / Math.max(1, profiled.framesDelivered),
      isolateBusyMs: summary.busyMs / Math.max(1, profiled.framesDelivered),
      /** Our frame handlers, total time (object flush + edge listener for canvas frames). */
      handlersMs: handlerMs(hot.frame) / Math.max(1, profiled.framesDelivered),
    };
    // The worker's workerd is the process running the profiler's thread; its main thread runs the isolate.
    const worker = profiled.processes.find((p) => p.threads.some((t) => t.name.startsWith("v8:ProfEvntProc")));
    const mainThreadCpuMs = worker?.threads.find((t) => t.tid === worker.pid)?.cpuMs ?? 0;
    const c = summary.categories;
    const isolate = {
      workerPid: worker?.pid,
      workerProcessCpuMs: worker?.cpuMs ?? 0,
      mainThreadCpuMs,
      sampledMs: summary.sampledMs,
      sampledMsUpper: summary.sampledMsUpper,
      busyMs: summary.busyMs,
      /** The isolate's busy time as a share of the worker's main thread CPU (the rest is outside the lock). */
      busyPctOfMainThread: mainThreadCpuMs > 0 ? (summary.busyMs / mainThreadCpuMs) * 100 : 0,
      /** Shares of all the stack's CPU over the window (every process). */
      pctOfRuntimeCpu: {
        javascript: (c.javascript.ms / profiled.runtimeCpuMs) * 100,
        native: (c.native.ms / profiled.runtimeCpuMs) * 100,
        program: (c.program.ms / profiled.runtimeCpuMs) * 100,
        gc: (c.gc.ms / profiled.runtimeCpuMs) * 100,
        outsideIsolate: ((profiled.runtimeCpuMs - summary.sampledMs) / profiled.runtimeCpuMs) * 100,
      },
    };
    const report = {
      machine: "2 cores, shared; load generator in the same machine",
      settings: { clients: clientCount, monitors, rate, warmupS, durationS, samplingIntervalUs: samplingUs },
      profileFile: { path: values.out, bytes },
      reference,
      profiled,
      isolate,
      perPlacement,
      perFrame,
      profile: summary,
    };
    printReport(report);
    if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    for (const c of clients) c.close();
    inspector?.close();
    await stack.stop();
  }
}

function sourceLine(location: string): string {
  const colon = location.lastIndexOf(":");
  try {
    const text = readFileSync(resolve(ROOT, location.slice(0, colon)), "utf8").split("\n")[
      Number(location.slice(colon + 1)) - 1
    ];
    return text?.trim().slice(0, 60) ?? "";
  } catch {
    return "";
  }
}

function printReport(r: {
  settings: { samplingIntervalUs: number };
  isolate: { workerPid: number | undefined; mainThreadCpuMs: number; busyPctOfMainThread: number };
  profileFile: { path: string; bytes: number };
  reference: WindowResult;
  profiled: WindowResult;
  perPlacement: { runtimeCpuMs: number; isolateBusyMs: number; handlersMs: number };
  perFrame: { runtimeCpuMs: number; isolateBusyMs: number; handlersMs: number };
  profile: ProfileSummary;
}): void {
  const p = r.profile;
  const f1 = (n: number) => n.toFixed(1);
  const f3 = (n: number) => n.toFixed(3);
  const pct = (s: Share) => `${f1(s.pct).padStart(5)} %`;
  const busy = (s: Share) => (s.pctOfBusy === null ? "" : `${f1(s.pctOfBusy).padStart(5)} % of busy`);
  for (const [name, w] of [
    ["reference (no profiler)", r.reference],
    ["profiled", r.profiled],
  ] as const) {
    console.log(
      `${name}: ${w.placements} placements, ${w.framesDelivered} frames delivered in ${f1(w.seconds)} s; runtime CPU ${Math.round(w.runtimeCpuMs)} ms (${f1(w.runtimeCpuPct)} % of a core); p50 ${f1(w.p50)} ms, p99 ${f1(w.p99)} ms; generator ${f1(w.generatorCpuPct)} %`,
    );
    for (const proc of w.processes.filter((x) => x.cpuMs > 0)) {
      const threads = proc.threads.map((t) => `${t.name} ${Math.round(t.cpuMs)}`).join(", ");
      console.log(`  ${proc.command} (pid ${proc.pid}): ${Math.round(proc.cpuMs)} ms; threads: ${threads}`);
    }
  }
  const kib = (r.profileFile.bytes / 1024).toFixed(0);
  console.log(`\nprofile → ${r.profileFile.path} (${kib} KiB)`);
  console.log(
    `${p.samples} samples at ~${f1(p.intervalUs)} µs (asked ${r.settings.samplingIntervalUs}) = ${Math.round(p.sampledMs)} ms of isolate time (≤ ${Math.round(p.sampledMsUpper)} ms) over ${Math.round(p.spanMs)} ms; busy ${Math.round(p.busyMs)} ms`,
  );
  console.log(
    `worker's main thread (pid ${r.isolate.workerPid}): ${Math.round(r.isolate.mainThreadCpuMs)} ms CPU; the isolate was busy for ${f1(r.isolate.busyPctOfMainThread)} % of it`,
  );
  for (const [name, s] of Object.entries(p.categories)) {
    console.log(`  ${name.padEnd(11)} ${Math.round(s.ms).toString().padStart(6)} ms ${pct(s)} ${busy(s)}`);
  }
  console.log("\nself time by file");
  for (const s of p.byFile) {
    console.log(`  ${s.file.padEnd(48)} ${f1(s.ms).padStart(8)} ms ${pct(s)} ${busy(s)}`);
  }
  console.log(`\ntop ${p.topSelf.length} functions by self time`);
  for (const s of p.topSelf) {
    const lines = s.lines?.map((l) => `${l.line} ${l.pct.toFixed(0)}%`).join(", ");
    console.log(`  ${f1(s.ms).padStart(8)} ms ${pct(s)}  ${s.function}  ${s.location}${lines ? `  [${lines}]` : ""}`);
  }
  console.log(`\ntop ${p.topLines.length} lines by self time (JavaScript)`);
  for (const l of p.topLines) {
    console.log(`  ${f1(l.ms).padStart(8)} ms ${pct(l)}  ${l.line.padEnd(40)} ${sourceLine(l.line)}`);
  }
  console.log("\nhot-path handlers, total time (self + callees)");
  for (const [name, s] of Object.entries(p.focus)) {
    console.log(`  ${name.padEnd(18)} ${f1(s.ms).padStart(8)} ms ${pct(s)} ${busy(s)}`);
  }
  console.log(
    `\nper placement: runtime CPU ${f3(r.perPlacement.runtimeCpuMs)} ms, isolate busy ${f3(r.perPlacement.isolateBusyMs)} ms, our placement handlers ${f3(r.perPlacement.handlersMs)} ms`,
  );
  console.log(
    `per delivered frame: runtime CPU ${f3(r.perFrame.runtimeCpuMs)} ms, isolate busy ${f3(r.perFrame.isolateBusyMs)} ms, our frame handlers ${f3(r.perFrame.handlersMs)} ms`,
  );
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  await main();
  process.exit(0);
}
