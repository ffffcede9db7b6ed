/**
 * @module run
 * `npm run loadtest`: drives many protocol clients across many edge regions and reports load
 * distribution, broadcast delivery, presence accuracy, latency, throughput and errors, then exits 0
 * only if every threshold passed.
 *
 * With no `--url` it starts the local multi-region stack itself (loadtest/stack.ts: a canvas host and
 * K edge processes), runs the scenario, and stops the stack. With `--url` (repeatable) it targets
 * running instances instead — a deployed Worker, where the regions are the colos the servers name in
 * their hellos. Bounded in clients and time; stops by itself.
 *
 * Phases: connect → presence at rest → place (with churn, an edge killed, or the canvas host killed and
 * restarted, per scenario) → drain → presence at rest → verify the canvas → report.
 */
import { writeFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS } from "../web/pacing.ts";
import type { Snapshot } from "../worker/protocol.ts";
import {
  type Backoff,
  fetchSnapshot,
  type Ledger,
  LoadClient,
  liveUrlOf,
  newLedger,
  pixelOf,
  type Target,
} from "./client.ts";
import { renderHtml } from "./html.ts";
import type { FaultReport, LoadReport, RegionReport, Threshold } from "./report-types.ts";
import { isScenarioName, SCENARIOS, type Scenario } from "./scenarios.ts";
import { type Regions, type Stack, startRegions, startStack } from "./stack.ts";
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
  ratio,
  SampleBuffer,
  summarizeLatency,
  untilAll,
} from "./stats.ts";

const HELP = `usage: npm run loadtest -- [options]
  --scenario smoke|standard|stress|churn|chaos|restart|storm   (default standard)
  --regions K        local edge regions to start (default per scenario)
  --clients N        steady clients
  --pixels P         placements per client
  --rate R           placements per second, all clients together
  --duration S       spread the placements over S seconds (sets the rate)
  --url URL          target a running instance instead (http(s):// or ws(s)://; repeatable)
  --json FILE        write the report as JSON
  --html FILE        write the report as a page with charts
Local runs only target 127.0.0.1 and stop by themselves.`;

const { values } = parseArgs({
  options: {
    scenario: { type: "string", default: "standard" },
    regions: { type: "string" },
    clients: { type: "string" },
    pixels: { type: "string" },
    rate: { type: "string" },
    duration: { type: "string" },
    url: { type: "string", multiple: true },
    json: { type: "string" },
    html: { type: "string" },
    help: { type: "boolean", default: false },
  },
});

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

if (values.help) {
  console.log(HELP);
  process.exit(0);
}
if (!isScenarioName(values.scenario)) fail(`unknown scenario ${values.scenario}\n\n${HELP}`);

function positiveInt(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) fail(`--${name} must be an integer from 1 to ${max}`);
  return n;
}

const preset = SCENARIOS[values.scenario];
const scenario: Scenario = {
  ...preset,
  regions: positiveInt("regions", values.regions, preset.regions, 8),
  clients: positiveInt("clients", values.clients, preset.clients, 5000),
  pixels: positiveInt("pixels", values.pixels, preset.pixels, 10_000),
  rate: positiveInt("rate", values.rate, preset.rate, 100_000),
};
if (values.duration !== undefined) {
  scenario.rate = Math.max(
    1,
    Math.round((scenario.clients * scenario.pixels) / positiveInt("duration", values.duration, 10, 600)),
  );
}
const urls = values.url ?? [];
if (scenario.name === "chaos" && urls.length > 0) fail("chaos kills a local edge: it cannot target --url");
if (scenario.name === "chaos" && scenario.regions < 2) fail("chaos needs at least 2 regions");
if (scenario.restartAt !== undefined && urls.length > 0)
  fail(`${scenario.name} restarts the local canvas host: it cannot target --url`);

/**
 * Restart and storm: the page's own pacing (web/pacing.ts), so the storm measured is the one real
 * pages would make; bounded at a minute, far past any restart here (a few seconds).
 */
const PAGE_BACKOFF: Backoff = { baseMs: BACKOFF_BASE_MS, capMs: BACKOFF_CAP_MS, giveUpAfterMs: 60_000 };
/** Reconnect attempts are counted in buckets this wide for the storm's rate. */
const BUCKET_MS = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A one-line progress display, redrawn in place on a terminal and every few seconds otherwise. */
class Progress {
  private lastLog = 0;
  constructor(private readonly tty = Boolean(process.stdout.isTTY)) {}
  show(line: string): void {
    if (this.tty) process.stdout.write(`\r\x1b[2K${line}`);
    else if (Date.now() - this.lastLog > 3000) {
      this.lastLog = Date.now();
      console.log(line);
    }
  }
  done(line: string): void {
    if (this.tty) process.stdout.write(`\r\x1b[2K${line}\n`);
    else console.log(line);
  }
}

interface StatsBody {
  presence: {
    total: number;
    regions: { region: string; count: number }[];
    isolates: { isolateId: string; reported?: number }[];
  };
  canvas?: { seq?: number };
}

function isStatsBody(v: unknown): v is StatsBody {
  if (typeof v !== "object" || v === null) return false;
  const presence: unknown = Reflect.get(v, "presence");
  return (
    typeof presence === "object" &&
    presence !== null &&
    typeof Reflect.get(presence, "total") === "number" &&
    Array.isArray(Reflect.get(presence, "regions")) &&
    Array.isArray(Reflect.get(presence, "isolates"))
  );
}

async function fetchStats(httpUrl: string): Promise<StatsBody> {
  const body: unknown = await (await fetch(`${httpUrl}/api/stats`)).json();
  if (!isStatsBody(body)) throw new Error("unexpected /api/stats body");
  return body;
}

function toHttp(url: string): string {
  return url
    .replace(/^ws/, "http")
    .replace(/\/ws\/?$/, "")
    .replace(/\/$/, "");
}
function toWs(url: string): string {
  return `${url
    .replace(/^http/, "ws")
    .replace(/\/ws\/?$/, "")
    .replace(/\/$/, "")}/ws`;
}

/** Open sockets per served region, from the clients themselves: the truth presence must match. */
function actualByRegion(clients: readonly LoadClient[]): Map<string, number> {
  const by = new Map<string, number>();
  for (const c of clients) if (c.connected) by.set(c.region, (by.get(c.region) ?? 0) + 1);
  return by;
}

function presenceMatches(stats: StatsBody, actual: Map<string, number>): boolean {
  const total = [...actual.values()].reduce((a, b) => a + b, 0);
  if (stats.presence.total !== total) return false;
  const reported = new Map(stats.presence.regions.map((r) => [r.region, r.count]));
  for (const [region, count] of actual) if (reported.get(region) !== count) return false;
  for (const [region, count] of reported) if (count !== 0 && !actual.has(region)) return false;
  return true;
}

/**
 * From the moment an edge is killed, polls until the canvas no longer holds a report for its isolate;
 * resolves with the milliseconds that took, or undefined past the deadline.
 */
async function watchExpiry(httpUrl: string, isolateId: string, deadlineMs: number): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    const stats = await fetchStats(httpUrl);
    const entry = stats.presence.isolates.find((i) => i.isolateId === isolateId);
    if (!entry || entry.reported === undefined) return Date.now() - started;
    await sleep(100);
  }
  return undefined;
}

/** /api/stats, or undefined while the canvas host is down (restarting). */
async function tryStats(httpUrl: string): Promise<StatsBody | undefined> {
  try {
    return await fetchStats(httpUrl);
  } catch {
    return undefined;
  }
}

/** Polls /api/stats until presence matches the clients' truth; resolves with the ms it took, or undefined. */
async function waitPresence(httpUrl: string, clients: readonly LoadClient[], timeoutMs: number) {
  const started = Date.now();
  for (;;) {
    const stats = await tryStats(httpUrl);
    if (stats && presenceMatches(stats, actualByRegion(clients))) return Date.now() - started;
    if (Date.now() - started > timeoutMs) return undefined;
    await sleep(50);
  }
}

interface Recovery {
  /** Date.now() when every client was connected again, caught up, and presence exact. */
  allConnectedAt?: number;
  allCaughtUpAt?: number;
  presenceExactAt?: number;
}

/**
 * From the moment the canvas host is killed, watches every 100 ms until every client is connected on a
 * socket opened after the kill, has caught up to the sequence that socket's hello named, and the
 * canvas reports presence exactly. The first two are taken from the clients' own timestamps (the
 * latest client's), presence from the poll that first saw it exact.
 */
async function watchRecovery(
  httpUrl: string,
  clients: readonly LoadClient[],
  faultAt: number,
  deadlineMs: number,
): Promise<Recovery> {
  const r: Recovery = {};
  while (Date.now() - faultAt < deadlineMs) {
    const back = clients.every((c) => c.connected && c.connectedAt >= faultAt);
    if (back && r.allConnectedAt === undefined)
      r.allConnectedAt =
        faultAt +
        untilAll(
          clients.map((c) => c.connectedAt),
          faultAt,
        );
    if (back && r.allCaughtUpAt === undefined && clients.every((c) => c.caughtUpAt !== undefined)) {
      r.allCaughtUpAt =
        faultAt +
        untilAll(
          clients.map((c) => c.caughtUpAt),
          faultAt,
        );
    }
    if (back && r.presenceExactAt === undefined) {
      const stats = await tryStats(httpUrl);
      if (stats && presenceMatches(stats, actualByRegion(clients))) r.presenceExactAt = Date.now();
    }
    if (r.allConnectedAt !== undefined && r.allCaughtUpAt !== undefined && r.presenceExactAt !== undefined) break;
    await sleep(100);
  }
  return r;
}

async function main(): Promise<number> {
  const progress = new Progress();
  const startedAt = new Date();
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  let stack: Regions | undefined;
  let targets: Target[];
  let statsUrl: string;
  const vars = {
    // The load test measures the system, not the abuse limits: each client may place freely.
    RATE_LIMIT_PIXELS_PER_SECOND: "1000",
    RATE_LIMIT_PIXEL_BURST: "1000",
    RATE_LIMIT_FRAMES_PER_SECOND: "2000",
    PRESENCE_HEARTBEAT_MS: String(scenario.heartbeatMs),
  };
  // The canvas host started again after a restart; Regions.stop() only knows the one it started.
  const restarted: { canvas?: Stack } = {};
  if (urls.length === 0) {
    stack = await startRegions({
      count: scenario.regions,
      vars,
      onProgress: (m) => progress.done(`stack: ${m}`),
    });
    targets = stack.edges.map((e) => ({ name: e.region, wsUrl: e.wsUrl, liveUrl: liveUrlOf(e.wsUrl), alive: true }));
    statsUrl = stack.canvas.url;
  } else {
    targets = urls.map((u, i) => ({
      name: `target-${i + 1}`,
      wsUrl: toWs(u),
      liveUrl: liveUrlOf(toWs(u)),
      alive: true,
    }));
    statsUrl = toHttp(urls[0] ?? "");
  }

  /**
   * Kills the canvas host as a crash would (SIGKILL of its process group), then starts it again on
   * the same persist directory and port, as drawing.test.ts restarts a stack. The edges reach it
   * through the dev registry, where the new process registers itself under the same name; until it
   * has, their upgrades answer 503 `canvas_unavailable`. Resolves with the ms until it is healthy.
   */
  const restartCanvas = async (): Promise<number> => {
    if (!stack) throw new Error("no local stack to restart");
    const { persistTo, port } = stack.canvas;
    const killedAt = Date.now();
    await stack.canvas.kill();
    restarted.canvas = await startStack({ persistTo, port, region: "canvas-host", vars });
    return Date.now() - killedAt;
  };

  try {
    return await runScenario(
      progress,
      targets,
      statsUrl,
      stack ? restartCanvas : undefined,
      stack,
      startedAt,
      cpuStart,
      wallStart,
    );
  } finally {
    await stack?.stop();
    await restarted.canvas?.stop();
  }
}

async function runScenario(
  progress: Progress,
  targets: Target[],
  statsUrl: string,
  restartCanvas: (() => Promise<number>) | undefined,
  stack: Regions | undefined,
  startedAt: Date,
  cpuStart: NodeJS.CpuUsage,
  wallStart: number,
): Promise<number> {
  const total = scenario.clients * scenario.pixels;
  let ledger: Ledger | undefined;
  const attemptTimes: number[] = [];
  // How late the generator's own timers ran after the fault: bunched attempts could be its doing.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const faulty = scenario.restartAt !== undefined;
  const latency = new SampleBuffer();
  const latencyByRegion = new Map<string, SampleBuffer>();
  const events = {
    latency(region: string, ms: number) {
      latency.push(ms);
      let buffer = latencyByRegion.get(region);
      if (!buffer) {
        buffer = new SampleBuffer();
        latencyByRegion.set(region, buffer);
      }
      buffer.push(ms);
    },
    reconnectAttempt(at: number) {
      attemptTimes.push(at);
    },
  };

  // ---- connect
  let connectFailures = 0;
  const clients: LoadClient[] = [];
  const ledgerFor = (width: number) => {
    ledger ??= newLedger(width, total);
    return ledger;
  };
  // The ledger needs the canvas width: read it from a first hello.
  const probe = new LoadClient(-1, targets[0] as Target, targets, newLedger(1, 1), events);
  await probe.connect();
  const width = probe.hello?.width ?? 1000;
  const height = probe.hello?.height ?? 1000;
  probe.close();
  // Every placement is a distinct pixel, so each delivery can be matched to its send time.
  if (total > width * height) fail(`${total} placements do not fit a ${width}×${height} canvas`);
  const shared = ledgerFor(width);
  for (let i = 0; i < scenario.clients; i++) {
    const client = new LoadClient(i, targets[i % targets.length] as Target, targets, shared, events);
    if (faulty) client.backoff = PAGE_BACKOFF;
    clients.push(client);
  }
  for (let i = 0; i < clients.length; i += 50) {
    const batch = clients.slice(i, i + 50);
    const results = await Promise.allSettled(batch.map((c) => c.connect()));
    connectFailures += results.filter((r) => r.status === "rejected").length;
    progress.show(`connecting ${Math.min(i + 50, clients.length)}/${clients.length}`);
  }
  progress.done(
    `connected ${clients.length - connectFailures}/${clients.length} clients across ${targets.length} regions`,
  );

  // ---- presence at rest, before load
  const restBefore = await waitPresence(statsUrl, clients, 5000);
  // The canvas before any placement: afterwards it must equal this plus the accepted placements.
  let before: Snapshot | undefined;
  if (faulty) {
    const decoded = (await fetchSnapshot(statsUrl, probePalette(clients))).decoded;
    if (decoded.ok) before = decoded.value;
  }

  // ---- place
  const churners: LoadClient[] = [];
  let churnId = 1_000_000;
  let lastChurnAt = 0;
  let killedAt: number | undefined;
  let killedIsolate: string | undefined;
  let killedTarget = -1;
  let expiry: Promise<number | undefined> = Promise.resolve(undefined);
  let sent = 0;
  let placeStart = performance.now();
  let nextClient = 0;
  let lastChurn = placeStart;
  let faultAt: number | undefined;
  let faultAtPlacement = 0;
  let canvasDown: Promise<number> | undefined;
  let recovery: Promise<Recovery> = Promise.resolve({});
  const disconnectsBefore = new Map<LoadClient, number>();
  let stalledSince: number | undefined;
  while (sent < total) {
    // While no client is connected (the canvas is down) the schedule pauses rather than skipping
    // placements: each index must be sent exactly once to be accounted for.
    if (!clients.some((c) => c.connected)) {
      stalledSince ??= performance.now();
      progress.show(`placing ${formatCount(sent)}/${formatCount(total)} · paused: no client connected`);
      await sleep(10);
      continue;
    }
    if (stalledSince !== undefined) {
      placeStart += performance.now() - stalledSince;
      stalledSince = undefined;
    }
    const elapsed = (performance.now() - placeStart) / 1000;
    const due = Math.min(total, Math.floor(elapsed * scenario.rate) + 1);
    for (; sent < due; sent++) {
      // Round-robin over connected clients; a disconnected one's turn goes to the next.
      for (let tries = 0; tries < clients.length; tries++) {
        const client = clients[nextClient++ % clients.length];
        if (client?.place(sent)) break;
      }
    }
    if (scenario.churnBurst > 0 && performance.now() - lastChurn >= 500) {
      lastChurn = performance.now();
      for (let i = 0; i < scenario.churnBurst && churners.length > 0; i++) {
        const victim = churners.splice(Math.floor(Math.random() * churners.length), 1)[0];
        victim?.close();
      }
      for (let i = 0; i < scenario.churnBurst; i++) {
        const c = new LoadClient(churnId++, targets[churnId % targets.length] as Target, targets, shared, events);
        churners.push(c);
        c.connect().catch(() => {
          connectFailures += 1;
        });
      }
      lastChurnAt = Date.now();
    }
    if (stack && scenario.killAt !== undefined && killedAt === undefined && sent >= total * scenario.killAt) {
      const victim = stack.edges[stack.edges.length - 1];
      if (victim) {
        killedIsolate = clients.find((c) => c.targetName === victim.region)?.isolateId;
        progress.done(`chaos: killing edge ${victim.region} (isolate ${killedIsolate?.slice(0, 8)})`);
        killedAt = Date.now();
        killedTarget = targets.findIndex((t) => t.name === victim.region);
        void victim.kill();
        if (killedIsolate) expiry = watchExpiry(statsUrl, killedIsolate, 3 * scenario.heartbeatMs + 10_000);
      }
    }
    if (
      restartCanvas &&
      scenario.restartAt !== undefined &&
      faultAt === undefined &&
      sent >= total * scenario.restartAt
    ) {
      progress.done(`${scenario.name}: killing the canvas host at placement ${sent}, restarting it on the same state`);
      for (const c of clients) disconnectsBefore.set(c, c.disconnects);
      faultAt = Date.now();
      faultAtPlacement = sent;
      loopDelay.enable();
      canvasDown = restartCanvas();
      recovery = watchRecovery(statsUrl, clients, faultAt, 90_000);
    }
    const received = clients.reduce((a, c) => a + c.received, 0);
    progress.show(
      `placing ${formatCount(sent)}/${formatCount(total)} · delivered ${formatPercent(ratio(received, sent * clients.length))} · ${formatCount(clients.filter((c) => c.connected).length)} connected`,
    );
    await sleep(10);
  }
  const placeSeconds = (performance.now() - placeStart) / 1000;

  // ---- drain: wait until every steady client has every accepted pixel, or give up
  if (scenario.churnBurst > 0) {
    for (const c of churners.splice(0)) c.close();
    lastChurnAt = Date.now();
  }
  const rejectedCount = () => shared.rejected.reduce((a, b) => a + b, 0);
  // Done when every client has every placement not rejected, or nothing has moved for 2 s (a
  // placement lost with a killed edge never arrives; the canvas check below accounts for it).
  // After a restart, wait for everyone to be back first (bounded by the clients' own give-up time).
  const drainDeadline = Date.now() + (faulty ? 90_000 : 15_000);
  let lastTotal = -1;
  let stableSince = Date.now();
  while (Date.now() < drainDeadline) {
    const want = total - rejectedCount();
    if (clients.every((c) => c.received >= want)) break;
    const now = clients.reduce((a, c) => a + c.received, 0);
    const settled = !faulty || clients.every((c) => c.connected || c.gaveUp);
    if (now !== lastTotal || !settled) {
      lastTotal = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 2000) break;
    progress.show(`draining: ${clients.filter((c) => c.received >= want).length}/${clients.length} clients complete`);
    await sleep(50);
  }
  progress.done("placement phase done");

  // ---- presence at rest, after load (and after churn or the dead edge)
  const convergenceMs = await waitPresence(statsUrl, clients, scenario.killAt !== undefined || faulty ? 20_000 : 5000);
  const canvasDownMs = canvasDown ? await canvasDown : Number.NaN;
  const recovered = await recovery;
  loopDelay.disable();
  const presenceConvergedAfterChurn =
    lastChurnAt > 0 && convergenceMs !== undefined ? Date.now() - lastChurnAt : undefined;
  const deadIsolateExpiryMs = await expiry;
  await sleep(600); // one presence interval, so every client holds the latest frame
  const stats = await fetchStats(statsUrl);
  // The truth is every socket this run holds open: steady clients and any churner still connected.
  const actual = actualByRegion([...clients, ...churners]);
  const actualTotal = [...actual.values()].reduce((a, b) => a + b, 0);
  const clientsAgree = clients.filter((c) => c.connected && c.lastPresence?.total === actualTotal).length;

  // ---- verify the canvas: every accepted pixel is in the snapshot
  await sleep(1100); // past the edge cache's second
  const snapshot = (await fetchSnapshot(statsUrl, probePalette(clients))).decoded;
  // A placement missing from the canvas is a loss — unless nobody ever saw it and it went through
  // the edge that was killed: then it died in flight, unacknowledged, as a click does when the
  // network drops (the page rolls it back). No pixel anyone saw may be missing.
  // A placement on a socket that closed before anyone saw it (`orphaned`) died in the same way.
  let lost = 0;
  let lostInFlight = 0;
  if (snapshot.ok) {
    for (let i = 0; i < total; i++) {
      if (shared.rejected[i]) continue;
      const p = pixelOf(i, width, probePalette(clients));
      if (snapshot.value.pixels[p.y * width + p.x] === p.colour) continue;
      if (!shared.seen[i] && (shared.via[i] === killedTarget || shared.orphaned[i])) lostInFlight += 1;
      else lost += 1;
    }
  }
  const intact = snapshot.ok && lost === 0;
  // Everything else must be as it was before the run: no pixel the run did not place has changed,
  // and a placement that was rejected or lost in flight left its pixel as it was.
  let changedElsewhere = 0;
  if (faulty && snapshot.ok && before) {
    const after = snapshot.value.pixels;
    const palette = probePalette(clients);
    // Placement i is pixel i in row-major order (pixelOf), so a pixel's index is its placement's.
    for (let i = 0; i < after.length; i++) {
      const placed = i < total && !shared.rejected[i] && after[i] === pixelOf(i, width, palette).colour;
      if (!placed && after[i] !== before.pixels[i]) changedElsewhere += 1;
    }
  }
  const serverStats = faulty ? await tryStats(statsUrl) : undefined;
  const serverSeq = serverStats?.canvas?.seq ?? Number.NaN;
  const clientsAtServerSeq = clients.filter((c) => c.connected && c.seq === serverSeq).length;

  // ---- report
  const wallS = (performance.now() - wallStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const acceptedCount = total - rejectedCount() - lostInFlight;
  const expected = acceptedCount * clients.length;
  const received = clients.reduce((a, c) => a + Math.min(c.received, acceptedCount), 0);
  const phantom = clients.reduce((a, c) => a + c.phantom, 0);
  const regionNames = [...new Set(clients.map((c) => c.region))].sort();
  const regions: RegionReport[] = regionNames.map((name) => {
    const mine = clients.filter((c) => c.region === name);
    return {
      name,
      clients: mine.length,
      isolates: new Set(mine.map((c) => c.isolateId)).size,
      latencyMs: summarizeLatency(latencyByRegion.get(name)?.view() ?? new Float64Array(0)),
      presenceReported: stats.presence.regions.find((r) => r.region === name)?.count ?? 0,
      presenceActual: actual.get(name) ?? 0,
    };
  });
  const perIsolate = new Map<string, { isolateId: string; region: string; clients: number }>();
  for (const c of clients) {
    const entry = perIsolate.get(c.isolateId) ?? { isolateId: c.isolateId, region: c.region, clients: 0 };
    entry.clients += 1;
    perIsolate.set(c.isolateId, entry);
  }
  const latencySummary = summarizeLatency(latency.view());
  const frames = clients.reduce((a, c) => a + c.frames, 0);
  const bytes = clients.reduce((a, c) => a + c.bytes, 0);
  const perRegionExact = presenceMatches(stats, actual);
  const distributionRatio = maxOverMin(regions.map((r) => r.clients));
  const rejected = rejectedCount();
  const thresholds: Threshold[] = [
    check("connect failures", "= 0", String(connectFailures), connectFailures === 0),
    check("broadcast delivery", "= 100.0 %", formatPercent(ratio(received, expected)), received === expected),
    check("phantom pixels (rejected yet delivered)", "= 0", String(phantom), phantom === 0),
    check(
      "presence total at rest",
      `= ${actualTotal} sockets`,
      String(stats.presence.total),
      stats.presence.total === actualTotal,
    ),
    check("presence per region at rest", "exact", perRegionExact ? "exact" : "differs", perRegionExact),
    check(
      "clients shown the exact total",
      `${actualTotal > 0 ? clients.length : 0}`,
      String(clientsAgree),
      clientsAgree === clients.filter((c) => c.connected).length,
    ),
    check(
      "presence before load",
      "exact within 5 s",
      restBefore === undefined ? "never" : formatMs(restBefore),
      restBefore !== undefined,
    ),
    check("canvas holds every pixel anyone saw", "all", intact ? "all" : `${lost} missing`, intact),
    check(
      faulty
        ? "placements lost in flight (sent as the canvas died, never seen)"
        : "placements lost in flight (sent to a dying edge, never seen)",
      scenario.killAt !== undefined || faulty ? "reported" : "= 0",
      String(lostInFlight),
      lostInFlight === 0 || scenario.killAt !== undefined || faulty,
    ),
    check("rejected placements", "= 0", String(rejected), rejected === 0 || scenario.killAt !== undefined),
    check(
      "latency p99 (place → seen by others)",
      `< ${formatMs(scenario.p99LimitMs)}`,
      formatMs(latencySummary.p99),
      latencySummary.count > 0 && latencySummary.p99 < scenario.p99LimitMs,
    ),
    check(
      "distribution max/min",
      "≤ 1.25",
      distributionRatio.toFixed(2),
      // A fault may move clients between edges (a timed-out upgrade marks an edge dead).
      distributionRatio <= 1.25 || scenario.killAt !== undefined || faulty,
    ),
    check(
      "protocol errors",
      "= 0",
      String(clients.reduce((a, c) => a + c.protocolErrors, 0)),
      clients.every((c) => c.protocolErrors === 0),
    ),
  ];
  if (scenario.churnBurst > 0) {
    thresholds.push(
      check(
        "presence converges after churn",
        "≤ 2 s",
        presenceConvergedAfterChurn === undefined ? "never" : formatMs(presenceConvergedAfterChurn),
        presenceConvergedAfterChurn !== undefined && presenceConvergedAfterChurn <= 2000,
      ),
    );
  }
  if (scenario.killAt !== undefined) {
    const window = 3 * scenario.heartbeatMs;
    thresholds.push(
      check(
        "dead edge's presence expires",
        `≤ ${formatMs(window + 2000)}`,
        deadIsolateExpiryMs === undefined ? "never" : formatMs(deadIsolateExpiryMs),
        deadIsolateExpiryMs !== undefined && deadIsolateExpiryMs <= window + 2000,
      ),
      check(
        "clients of the dead edge reconnected",
        "all",
        String(clients.filter((c) => c.reconnects > 0).length),
        clients.every((c) => c.connected),
      ),
    );
  }
  let fault: FaultReport | undefined;
  if (faultAt !== undefined) {
    const at = faultAt;
    const attempts = bucketTimes(attemptTimes, at, BUCKET_MS);
    const connects = bucketTimes(
      clients.filter((c) => c.connectedAt >= at).map((c) => c.connectedAt),
      at,
      BUCKET_MS,
      at + attempts.length * BUCKET_MS,
    );
    const peak = peakBucket(attempts);
    const since = (t: number | undefined) => (t === undefined ? undefined : t - at);
    fault = {
      kind: "canvas restart",
      atPlacement: faultAtPlacement,
      canvasDownMs,
      socketsDropped: clients.filter((c) => c.disconnects > (disconnectsBefore.get(c) ?? 0)).length,
      backoff: PAGE_BACKOFF,
      bucketMs: BUCKET_MS,
      attemptsPerBucket: attempts,
      connectsPerBucket: connects,
      attempts: attemptTimes.filter((t) => t >= at).length,
      peakAttemptsPerBucket: peak.count,
      peakAtMs: peak.index * BUCKET_MS,
      peakAttemptsPerS: (peak.count * 1000) / BUCKET_MS,
      everyoneAtOncePerBucket: clients.length,
      allConnectedMs: since(recovered.allConnectedAt),
      allCaughtUpMs: since(recovered.allCaughtUpAt),
      presenceExactMs: since(recovered.presenceExactAt),
      resyncs: clients.reduce((a, c) => a + c.resyncs, 0),
      gaveUp: clients.filter((c) => c.gaveUp).length,
      canvasUnavailable: clients.reduce((a, c) => a + c.canvasUnavailable, 0),
      serverSeq,
      clientsAtServerSeq,
      changedElsewhere,
      generatorLoopDelayMaxMs: loopDelay.max / 1e6,
    };
    thresholds.push(...faultThresholds(fault, clients.length));
  } else if (faulty) {
    thresholds.push(check("canvas host restarted", "once", "never", false));
  }
  const report: LoadReport = {
    scenario: scenario.name,
    target: urls.length > 0 ? urls.join(", ") : `local (${scenario.regions} regions, 127.0.0.1)`,
    startedAt: startedAt.toISOString(),
    durationS: wallS,
    clients: clients.length,
    regions,
    distribution: { maxOverMin: distributionRatio, perIsolate: [...perIsolate.values()] },
    broadcast: { expected, received, ratio: ratio(received, expected), phantom },
    presence: {
      actual: actualTotal,
      reported: stats.presence.total,
      ratio: ratio(stats.presence.total, actualTotal),
      perRegionExact,
      convergenceMs: presenceConvergedAfterChurn ?? convergenceMs,
      deadIsolateExpiryMs,
    },
    latencyMs: latencySummary,
    latencyHistogram: histogram(latency.view(), DEFAULT_LATENCY_BOUNDS_MS),
    throughput: {
      placementsPerS: acceptedCount / placeSeconds,
      framesPerS: frames / placeSeconds,
      bytesPerS: bytes / placeSeconds,
    },
    placements: { sent: total, accepted: acceptedCount, rejected, lostInFlight },
    errors: {
      connectFailures,
      disconnects: clients.reduce((a, c) => a + c.disconnects, 0),
      reconnects: clients.reduce((a, c) => a + c.reconnects, 0),
      rejected,
      protocol: clients.reduce((a, c) => a + c.protocolErrors, 0),
    },
    generatorCpu: (cpu.user + cpu.system) / 1e6 / wallS,
    canvasIntact: intact,
    fault,
    thresholds,
    pass: thresholds.every((t) => t.pass),
  };
  for (const c of clients) c.close();
  printReport(report);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  if (values.html) writeFileSync(values.html, renderHtml(report));
  return report.pass ? 0 : 1;
}

function probePalette(clients: readonly LoadClient[]): number {
  return clients.find((c) => c.hello)?.hello?.palette.length ?? 32;
}

function check(name: string, want: string, got: string, pass: boolean): Threshold {
  return { name, want, got, pass };
}

const msOrNever = (ms: number | undefined) => (ms === undefined ? "never" : formatMs(ms));

/**
 * Restart and storm: every socket dropped and every client back, none given up; at rest every client
 * holds the server's sequence, and the canvas is what it was plus the accepted placements. The storm
 * adds its own: the busiest 100 ms of reconnect attempts stays below everyone at once (the backoff's
 * job), and presence is exact within 2 s of the last client's return.
 */
function faultThresholds(f: FaultReport, clients: number): Threshold[] {
  const out = [
    check("sockets dropped by the restart", `= ${clients}`, String(f.socketsDropped), f.socketsDropped === clients),
    check(
      "clients back after the restart",
      `all, within ${formatMs(f.backoff.giveUpAfterMs)}`,
      `${clients - f.gaveUp} in ${msOrNever(f.allConnectedMs)}`,
      f.gaveUp === 0 && f.allConnectedMs !== undefined,
    ),
    check("clients caught up after the restart", "all", msOrNever(f.allCaughtUpMs), f.allCaughtUpMs !== undefined),
    check(
      "clients at the server's seq at rest",
      `${clients} at ${f.serverSeq}`,
      String(f.clientsAtServerSeq),
      f.clientsAtServerSeq === clients,
    ),
    check(
      "canvas = before + accepted placements",
      "0 other pixels changed",
      String(f.changedElsewhere),
      f.changedElsewhere === 0,
    ),
  ];
  if (SCENARIOS[scenario.name].storm) {
    const presenceAfterBack =
      f.presenceExactMs !== undefined && f.allConnectedMs !== undefined
        ? f.presenceExactMs - f.allConnectedMs
        : undefined;
    out.push(
      check(
        `peak reconnect attempts per ${f.bucketMs} ms`,
        `< ${f.everyoneAtOncePerBucket} (everyone at once)`,
        `${f.peakAttemptsPerBucket} (${formatCount(f.peakAttemptsPerS)}/s)`,
        f.peakAttemptsPerBucket < f.everyoneAtOncePerBucket,
      ),
      check(
        "presence exact after everyone is back",
        "≤ 2 s",
        msOrNever(presenceAfterBack),
        presenceAfterBack !== undefined && presenceAfterBack <= 2000,
      ),
    );
  }
  return out;
}

function printReport(r: LoadReport): void {
  const line = (label: string, value: string) => console.log(`  ${label.padEnd(30)} ${value}`);
  console.log(`\nPixel Playground load test — ${r.scenario} — ${r.target}`);
  console.log(`  ${r.clients} clients, ${r.regions.length} regions, ${r.durationS.toFixed(1)} s\n`);
  console.log("  region       clients isolates  presence (reported/actual)  p50      p95      p99");
  for (const g of r.regions) {
    console.log(
      `  ${g.name.padEnd(12)} ${String(g.clients).padStart(7)} ${String(g.isolates).padStart(8)}  ${`${g.presenceReported}/${g.presenceActual}`.padStart(26)}  ${formatMs(g.latencyMs.p50).padEnd(8)} ${formatMs(g.latencyMs.p95).padEnd(8)} ${formatMs(g.latencyMs.p99)}`,
    );
  }
  console.log("");
  line("distribution (max/min)", r.distribution.maxOverMin.toFixed(2));
  line(
    "broadcast delivery",
    `${formatCount(r.broadcast.received)} / ${formatCount(r.broadcast.expected)} = ${formatPercent(r.broadcast.ratio)}`,
  );
  line(
    "presence at rest",
    `${r.presence.reported} reported / ${r.presence.actual} open = ${formatPercent(r.presence.ratio)}${r.presence.perRegionExact ? ", exact per region" : ", NOT exact per region"}`,
  );
  line(
    "latency place → seen",
    `p50 ${formatMs(r.latencyMs.p50)} · p95 ${formatMs(r.latencyMs.p95)} · p99 ${formatMs(r.latencyMs.p99)} · max ${formatMs(r.latencyMs.max)} (${formatCount(r.latencyMs.count)} samples)`,
  );
  line(
    "throughput",
    `${r.throughput.placementsPerS.toFixed(0)} placements/s · ${formatCount(Math.round(r.throughput.framesPerS))} frames/s · ${formatBytes(r.throughput.bytesPerS)}/s delivered`,
  );
  line(
    "placements",
    `${formatCount(r.placements.sent)} sent · ${formatCount(r.placements.accepted)} accepted · ${formatCount(r.placements.rejected)} rejected · ${formatCount(r.placements.lostInFlight)} lost in flight`,
  );
  line(
    "errors",
    `connect ${r.errors.connectFailures} · disconnects ${r.errors.disconnects} · reconnects ${r.errors.reconnects} · protocol ${r.errors.protocol}`,
  );
  if (r.fault) {
    const f = r.fault;
    line(
      "canvas host restart",
      `killed at placement ${formatCount(f.atPlacement)} · healthy again after ${formatMs(f.canvasDownMs)} · ${f.socketsDropped} sockets dropped`,
    );
    line(
      "reconnect attempts",
      `${formatCount(f.attempts)} · peak ${f.peakAttemptsPerBucket} per ${f.bucketMs} ms (${formatCount(f.peakAttemptsPerS)}/s) at +${formatMs(f.peakAtMs)}; everyone at once would be ${f.everyoneAtOncePerBucket}`,
    );
    line(
      "recovery (from the kill)",
      `all connected ${msOrNever(f.allConnectedMs)} · all caught up ${msOrNever(f.allCaughtUpMs)} · presence exact ${msOrNever(f.presenceExactMs)}`,
    );
    line(
      "after the restart",
      `${f.resyncs} resyncs · ${f.gaveUp} gave up · ${f.canvasUnavailable} canvas_unavailable · ${f.clientsAtServerSeq}/${r.clients} at seq ${f.serverSeq} · ${f.changedElsewhere} other pixels changed`,
    );
    line(
      "generator timers late by",
      `at most ${formatMs(f.generatorLoopDelayMaxMs)} (event-loop delay after the kill)`,
    );
  }
  line("load generator CPU", `${formatPercent(r.generatorCpu, 0)} of one core`);
  console.log("\n  thresholds");
  for (const t of r.thresholds)
    console.log(`  ${t.pass ? "PASS" : "FAIL"}  ${t.name.padEnd(40)} want ${t.want.padEnd(18)} got ${t.got}`);
  console.log(`\n  ${r.pass ? "PASS" : "FAIL"}\n`);
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error("loadtest failed:", error);
    process.exit(1);
  });
