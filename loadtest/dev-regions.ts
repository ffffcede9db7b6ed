/**
 * @module dev-regions
 * `npm run dev:regions -- --regions K`: the multi-region stack on this machine — one Canvas Durable
 * Object host and K edge regions, each its own `wrangler dev` process and isolate — printed as a
 * table of URLs with the isolate id each one greets with (distinct ids prove distinct isolates).
 * Ctrl-C stops everything.
 */
import { parseArgs } from "node:util";
import { whoServes } from "./client.ts";
import { REGION_NAMES, startRegions } from "./stack.ts";

const { values } = parseArgs({
  options: { regions: { type: "string", default: "4" }, help: { type: "boolean", default: false } },
});
if (values.help) {
  console.log(`usage: npm run dev:regions -- [--regions K]   (1..${REGION_NAMES.length}, default 4)`);
  process.exit(0);
}
const count = Number(values.regions);
if (!Number.isInteger(count) || count < 1 || count > REGION_NAMES.length) {
  console.error(`--regions must be an integer from 1 to ${REGION_NAMES.length}`);
  process.exit(2);
}

const stack = await startRegions({ count, onProgress: (m) => console.log(`… ${m}`) });
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping…");
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

console.log("\nregion        url                          isolate (from its hello)");
const targets = [{ region: "canvas-host", url: stack.canvas.url, wsUrl: stack.canvas.wsUrl }, ...stack.edges];
for (const t of targets) {
  const who = await whoServes(t.wsUrl);
  console.log(`${t.region.padEnd(13)} ${t.url.padEnd(28)} ${who.isolateId} (${who.region})`);
}
console.log(`\nOpen any URL to draw; all share one canvas. Stats: ${stack.canvas.url}/api/stats`);
console.log("Ctrl-C stops everything.");
