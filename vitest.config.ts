/**
 * Three tiers of tests, one `npm test`:
 * - unit:    pure modules in Node (protocol, canvas rules, hub, client state), co-located `*.test.ts`;
 * - workers: the real Worker and Durable Object in workerd via @cloudflare/vitest-pool-workers, with
 *            real WebSocket upgrades, storage, restarts (test/workers/);
 * - e2e:     the real local stack (`wrangler dev`) driven by headless Chromium and WebSocket clients
 *            (test/e2e/).
 */
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: ["worker/**/*.test.ts", "web/**/*.test.ts", "loadtest/**/*.test.ts"],
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // Small, fast limits so tests can reach them; a region label as `npm start` gives one.
              bindings: {
                REGION: "test",
                RATE_LIMIT_PIXELS_PER_SECOND: "50",
                RATE_LIMIT_PIXEL_BURST: "100",
                RATE_LIMIT_FRAMES_PER_SECOND: "200",
                CANVAS_WIDTH: "256",
                CANVAS_HEIGHT: "128",
                // Heartbeats every 300 ms, expiry after 900 ms: the expiry test waits seconds, not minutes.
                PRESENCE_HEARTBEAT_MS: "300",
                // Every test client shares one network here; tests turn network limits on through
                // the admin API when they are what is tested.
                RATE_LIMIT_NETWORK_PIXELS_PER_SECOND: "0",
                MAX_SOCKETS_PER_NETWORK: "0",
                LIVE_OPENS_PER_NETWORK_PER_SECOND: "0",
                IDENTITY_SECRET: "test-identity-secret",
                ADMIN_TOKEN: "test-admin-token",
              },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 90_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
