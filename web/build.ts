/**
 * @module build
 * Builds the page into web/dist/ (served by wrangler as static assets at /): bundles web/main.ts with
 * esbuild (ES2022, minified, with a source map) and copies index.html and style.css. Prints one line;
 * exits non-zero on any error. Run with `npm run build:web`.
 *
 * dist/ is overwritten in place, not emptied first, so a running `wrangler dev` never sees it missing.
 */

import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Message } from "esbuild";

const web = dirname(fileURLToPath(import.meta.url));
const dist = join(web, "dist");
const STATIC_FILES = ["index.html", "style.css"];

/** esbuild's failure carries structured messages; show the first with its place, not a stack. */
function describe(error: unknown): string {
  if (error instanceof Error && "errors" in error && Array.isArray(error.errors)) {
    const errors: unknown[] = error.errors;
    const first = errors.find(isMessage);
    if (first) {
      const where = first.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : "";
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
      return `${where}${first.text}${more}`;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

function isMessage(value: unknown): value is Message {
  return typeof value === "object" && value !== null && "text" in value && typeof value.text === "string";
}

try {
  const started = performance.now();
  await mkdir(dist, { recursive: true });
  const result = await build({
    entryPoints: [join(web, "main.ts")],
    outfile: join(dist, "main.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: true,
    metafile: true,
    // Errors are reported below in one line; warnings would be the only other output.
    logLevel: "silent",
  });
  await Promise.all(STATIC_FILES.map((file) => copyFile(join(web, file), join(dist, file))));
  const js = Object.entries(result.metafile.outputs).find(([path]) => path.endsWith("main.js"))?.[1].bytes ?? 0;
  const warnings = result.warnings.length > 0 ? `, ${result.warnings.length} warning(s)` : "";
  const took = Math.round(performance.now() - started);
  console.log(
    `web: built ${relative(process.cwd(), dist)}/ (main.js ${(js / 1024).toFixed(1)} KiB) in ${took} ms${warnings}`,
  );
} catch (error) {
  console.error(`web: build failed: ${describe(error)}`);
  process.exitCode = 1;
}
