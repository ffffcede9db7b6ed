/**
 * @module index
 * The Worker's entry: the edge app for HTTP and WebSockets, and the Canvas Durable Object class that
 * the same script hosts (wrangler.toml binds it as CANVAS).
 */
import { app } from "./edge/app.ts";

export { CanvasObject } from "./canvas/canvas-object.ts";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
