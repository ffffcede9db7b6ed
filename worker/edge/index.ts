/**
 * @module edge/index
 * An edge-only entry: the Hono app without the Canvas Durable Object class, for edge workers that
 * bind the canvas hosted by another script (`script_name`), as the multi-region local stack does.
 */
import { app } from "./app.ts";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
