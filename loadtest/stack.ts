/**
 * @module stack
 * Starts the real local stack — `wrangler dev` on this project, workerd underneath — for the load
 * test, the benchmarks and the end-to-end tests. Ports come from the OS; state lives in a directory
 * the caller owns, so a test can stop the stack and start it again on the same state, as a user
 * restarting `npm start` would.
 *
 * `startRegions` starts the multi-region shape: one `wrangler dev` hosting the Canvas Durable Object
 * and K more, each a separate edge (its own process, isolate and region label) binding that object
 * through `script_name` and the dev registry — the closest this machine gets to edges in many colos.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");

/** A port the OS says is free right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Every local client comes from 127.0.0.1, one network, where production would see thousands: the
 * per-network limits are off unless a run turns them on (tests of those limits do, through `vars` or
 * the admin API). ADMIN_TOKEN enables the admin API for the local tools and tests.
 */
export const LOCAL_STACK_VARS: Readonly<Record<string, string>> = {
  RATE_LIMIT_NETWORK_PIXELS_PER_SECOND: "0",
  MAX_SOCKETS_PER_NETWORK: "0",
  LIVE_OPENS_PER_NETWORK_PER_SECOND: "0",
  ADMIN_TOKEN: "local-admin-token",
};

export interface StackOptions {
  /** Directory for the Durable Object's storage; a fresh temporary one if omitted. */
  persistTo?: string;
  /** Extra `[vars]` for this run, e.g. faster rate limits. */
  vars?: Record<string, string>;
  region?: string;
  /** Listen here (a restart on the same port lets open pages reconnect); a free port if omitted. */
  port?: number;
  /** A wrangler config other than the project's (an edge-only one, for regions). */
  config?: string;
}

export interface Stack {
  /** The wrangler process, leader of its process group (workerd included). */
  pid: number;
  url: string;
  port: number;
  wsUrl: string;
  persistTo: string;
  /** Everything wrangler printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
  /** Kills the process group at once, as a crash would: no goodbyes. */
  kill(): Promise<void>;
}

/**
 * Starts `wrangler dev` and waits until it answers. Ports come from the OS (port 0), and one of them
 * can be taken by another socket before wrangler binds it; that start is retried on fresh ports.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(options);
    } catch (error) {
      const raced = error instanceof Error && error.message.includes("Address already in use");
      if (!raced || attempt >= 3) throw error;
      console.warn(`stack: a port was taken before wrangler bound it; starting again (attempt ${attempt + 1})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function startStackOnce(options: StackOptions): Promise<Stack> {
  const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), "pixel-playground-"));
  const port = options.port ?? (await freePort());
  const inspector = await freePort();
  const vars = { REGION: options.region ?? "local", ...LOCAL_STACK_VARS, ...options.vars };
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspector),
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
    ...(options.config ? ["--config", options.config] : []),
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const child: ChildProcess = spawn(join(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: ROOT,
    // Its own process group, so stopping it stops workerd too.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_HIDE_BANNER: "true",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_REGISTRY_PATH: join(persistTo, "registry"),
      NO_COLOR: "1",
    },
  });
  let log = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  const kill = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await exited;
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${log}`);
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not become healthy in time:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    pid: child.pid ?? -1,
    url,
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    persistTo,
    output: () => log,
    stop,
    kill,
  };
}

/** Region labels for local edges, in the order they are started. */
export const REGION_NAMES = [
  "us-east",
  "eu-west",
  "ap-south",
  "sa-east",
  "af-south",
  "me-central",
  "ap-east",
  "us-west",
];

export interface Edge extends Stack {
  region: string;
}

export interface Regions {
  /** The process hosting the Canvas Durable Object (it serves the app too, as region "canvas-host"). */
  canvas: Stack;
  edges: Edge[];
  persistTo: string;
  stop(): Promise<void>;
}

/** An edge-only wrangler config: the edge entry, the web assets, and the canvas bound by script name. */
function edgeConfigFile(dir: string, region: string): string {
  const file = join(dir, `edge-${region}.toml`);
  writeFileSync(
    file,
    `# Generated by loadtest/stack.ts: one local edge region bound to the canvas hosted elsewhere.
name = "pixel-edge-${region}"
main = ${JSON.stringify(join(ROOT, "worker/edge/index.ts"))}
compatibility_date = "2026-04-20"
compatibility_flags = ["no_web_socket_compression"]

[assets]
directory = ${JSON.stringify(join(ROOT, "web/dist"))}
binding = "ASSETS"
run_worker_first = ["/ws", "/ws/live", "/api/*"]

[[durable_objects.bindings]]
name = "CANVAS"
class_name = "CanvasObject"
script_name = "pixel-playground"
`,
  );
  return file;
}

/**
 * Starts the canvas host and `count` edge regions (at most REGION_NAMES.length), each its own
 * `wrangler dev` process. `vars` apply to every process (edges read the limits, the host the canvas
 * settings).
 */
export async function startRegions(options: {
  count: number;
  vars?: Record<string, string>;
  persistTo?: string;
  onProgress?: (message: string) => void;
}): Promise<Regions> {
  if (options.count < 1 || options.count > REGION_NAMES.length) {
    throw new RangeError(`regions must be 1..${REGION_NAMES.length}`);
  }
  const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), "pixel-regions-"));
  const progress = options.onProgress ?? (() => {});
  progress("starting the canvas host");
  const canvas = await startStack({
    persistTo,
    region: "canvas-host",
    ...(options.vars ? { vars: options.vars } : {}),
  });
  const edges: Edge[] = [];
  try {
    // Two at a time: each start compiles and boots a workerd; more at once only thrashes two cores.
    const names = REGION_NAMES.slice(0, options.count);
    for (let i = 0; i < names.length; i += 2) {
      const batch = names.slice(i, i + 2);
      progress(`starting edges ${batch.join(", ")}`);
      const started = await Promise.all(
        batch.map(async (region) => {
          const edge = await startStack({
            persistTo,
            region,
            config: edgeConfigFile(persistTo, region),
            ...(options.vars ? { vars: options.vars } : {}),
          });
          return { ...edge, region };
        }),
      );
      edges.push(...started);
    }
  } catch (error) {
    await Promise.all([canvas.stop(), ...edges.map((e) => e.stop())]);
    throw error;
  }
  return {
    canvas,
    edges,
    persistTo,
    stop: async () => {
      await Promise.all(edges.map((e) => e.stop()));
      await canvas.stop();
    },
  };
}
