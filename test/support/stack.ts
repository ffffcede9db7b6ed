/**
 * Starts the real local stack — `wrangler dev` on this project, workerd underneath — for the
 * end-to-end tests and tools. Ports come from the OS; state lives in a directory the caller owns,
 * so a test can stop the stack and start it again on the same state, as a user restarting
 * `npm start` would.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");

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

export interface StackOptions {
  /** Directory for the Durable Object's storage; a fresh temporary one if omitted. */
  persistTo?: string;
  /** Extra `[vars]` for this run, e.g. faster rate limits. */
  vars?: Record<string, string>;
  region?: string;
  /** Listen here (a restart on the same port lets open pages reconnect); a free port if omitted. */
  port?: number;
}

export interface Stack {
  url: string;
  port: number;
  wsUrl: string;
  persistTo: string;
  /** Everything wrangler printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), "pixel-playground-"));
  const port = options.port ?? (await freePort());
  const inspector = await freePort();
  const vars = { REGION: options.region ?? "local", ...options.vars };
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
  return { url, port, wsUrl: `ws://127.0.0.1:${port}/ws`, persistTo, output: () => log, stop };
}
