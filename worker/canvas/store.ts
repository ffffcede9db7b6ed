/**
 * @module store
 * The canvas on disk, in the Durable Object's SQLite storage.
 *
 * Two tables carry the pixels: `frames`, an append-only log with one row per broadcast frame (the
 * exact bytes sent), and `tiles`, the canvas in 64×64 tiles as of `tiles_seq`. Every flush appends one
 * row — one small write per tick, however many pixels — in the same event that broadcasts the frame,
 * so the output gate holds the broadcast until the row is durable: no one is ever shown a pixel that a
 * restart could lose. Every so often the dirty tiles are rewritten and the log before them deleted,
 * which bounds both the log and the work of a cold start (load tiles, replay the short log); the last
 * RETAIN_FRAMES frames stay behind for catch-up after a restart.
 */
import { type CanvasBounds, decodeServerMessage, Op } from "../protocol.ts";
import { CanvasState } from "./canvas-state.ts";
import type { StoredFrame } from "./frame-ring.ts";
import type { IsolateReport } from "./presence-registry.ts";

/** Compact when the log holds this many frames… */
export const COMPACT_AFTER_FRAMES = 500;
/**
 * Frames kept in the log after compaction, already in the tiles: after a restart they seed the
 * catch-up ring, so clients that were a little behind resume without a full snapshot.
 */
export const RETAIN_FRAMES = 500;
/** …or this many bytes. */
export const COMPACT_AFTER_BYTES = 2 * 1024 * 1024;

export interface CanvasShape {
  width: number;
  height: number;
  palette: number[];
}

export interface LoadedCanvas {
  shape: CanvasShape;
  canvas: CanvasState;
  /** Newest stored sequence. */
  seq: number;
  /** The log after the tiles, oldest first: replayed into the canvas, and the start of the ring. */
  frames: StoredFrame[];
  /** Whether the stored shape differs from the configured one (the stored shape wins). */
  shapeMismatch: boolean;
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffff);
}

/** Reads a stored shape; undefined when there is none or it does not parse. */
function parseShape(raw: unknown): CanvasShape | undefined {
  if (typeof raw !== "string") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const width: unknown = Reflect.get(value, "width");
  const height: unknown = Reflect.get(value, "height");
  const palette: unknown = Reflect.get(value, "palette");
  if (typeof width !== "number" || typeof height !== "number" || !isNumberArray(palette)) return undefined;
  return { width, height, palette };
}

function sameShape(a: CanvasShape, b: CanvasShape): boolean {
  return a.width === b.width && a.height === b.height && a.palette.join() === b.palette.join();
}

function toBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}

export class CanvasStore {
  private logFrames = 0;
  private logBytes = 0;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS tiles (id INTEGER PRIMARY KEY, data BLOB NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS frames (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)`);
    // The newest presence report per edge isolate: kept in storage so a wake from hibernation (which
    // drops every field) still knows who is online.
    sql.exec(
      `CREATE TABLE IF NOT EXISTS presence (isolate_id TEXT PRIMARY KEY, region TEXT NOT NULL,
        count INTEGER NOT NULL, report_seq INTEGER NOT NULL, received_at INTEGER NOT NULL)`,
    );
  }

  loadPresence(): IsolateReport[] {
    const reports: IsolateReport[] = [];
    for (const row of this.sql.exec(`SELECT isolate_id, region, count, report_seq, received_at FROM presence`)) {
      const { isolate_id, region, count, report_seq, received_at } = row;
      if (
        typeof isolate_id === "string" &&
        typeof region === "string" &&
        typeof count === "number" &&
        typeof report_seq === "number" &&
        typeof received_at === "number"
      ) {
        reports.push({ isolateId: isolate_id, region, count, reportSeq: report_seq, receivedAt: received_at });
      }
    }
    return reports;
  }

  savePresence(r: IsolateReport): void {
    this.sql.exec(
      `INSERT INTO presence (isolate_id, region, count, report_seq, received_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (isolate_id) DO UPDATE SET region = excluded.region, count = excluded.count,
         report_seq = excluded.report_seq, received_at = excluded.received_at`,
      r.isolateId,
      r.region,
      r.count,
      r.reportSeq,
      r.receivedAt,
    );
  }

  deletePresence(isolateIds: readonly string[]): void {
    for (const id of isolateIds) this.sql.exec(`DELETE FROM presence WHERE isolate_id = ?`, id);
  }

  private meta(key: string): string | undefined {
    const row = this.sql.exec(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0];
    const value = row?.value;
    return typeof value === "string" ? value : undefined;
  }

  private setMeta(key: string, value: string): void {
    this.sql.exec(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      key,
      value,
    );
  }

  /**
   * Loads the canvas, creating it with `configured` on first use. The shape is fixed at creation:
   * pixels already placed are palette indices into the stored palette, so a new configuration
   * cannot reinterpret them.
   */
  load(configured: CanvasShape): LoadedCanvas {
    let shape = parseShape(this.meta("shape"));
    if (!shape) {
      shape = configured;
      this.setMeta("shape", JSON.stringify(shape));
      this.setMeta("tiles_seq", "0");
    }
    const canvas = new CanvasState(shape.width, shape.height);
    for (const row of this.sql.exec(`SELECT id, data FROM tiles`)) {
      const bytes = toBytes(row.data);
      if (typeof row.id !== "number" || !bytes || !canvas.writeTile(row.id, bytes)) {
        throw new Error(`stored tile ${String(row.id)} does not fit the canvas`);
      }
    }
    const tilesSeq = Number(this.meta("tiles_seq") ?? "0");
    let seq = tilesSeq;
    const bounds: CanvasBounds = { width: shape.width, height: shape.height, paletteSize: shape.palette.length };
    const frames: StoredFrame[] = [];
    // Retained frames (at or below tiles_seq) only seed the ring: their pixels are already in the
    // tiles (replaying that suffix of history in order would change nothing, only cost time).
    for (const row of this.sql.exec(`SELECT seq, data FROM frames ORDER BY seq`)) {
      const bytes = toBytes(row.data);
      const rowSeq = Number(row.seq);
      if (!bytes) throw new Error(`stored frame ${String(row.seq)} is not bytes`);
      const previous = frames.at(-1);
      if (previous && rowSeq !== previous.seq + 1) throw new Error(`stored frame ${rowSeq} is out of order`);
      if (rowSeq <= tilesSeq) {
        frames.push({ seq: rowSeq, bytes });
        continue;
      }
      const decoded = decodeServerMessage(bytes, bounds);
      if (!decoded.ok || decoded.value.op !== Op.Pixels || decoded.value.seq !== seq + 1) {
        throw new Error(`stored frame ${String(row.seq)} is damaged or out of order`);
      }
      // Replayed pixels mark their tiles dirty, so the next compaction writes them before it drops the log.
      canvas.apply(decoded.value.pixels);
      seq = decoded.value.seq;
      frames.push({ seq, bytes });
      this.logFrames += 1;
      this.logBytes += bytes.length;
    }
    return { shape, canvas, seq, frames, shapeMismatch: !sameShape(shape, configured) };
  }

  /** Appends one broadcast frame to the log. Synchronous; durable by the time the output gate opens. */
  appendFrame(seq: number, bytes: Uint8Array): void {
    this.sql.exec(`INSERT INTO frames (seq, data) VALUES (?, ?)`, seq, bytes);
    this.logFrames += 1;
    this.logBytes += bytes.length;
  }

  get needsCompaction(): boolean {
    return this.logFrames >= COMPACT_AFTER_FRAMES || this.logBytes >= COMPACT_AFTER_BYTES;
  }

  /**
   * Writes every dirty tile of `canvas`, which holds the pixels of every frame up to `seq`, then drops
   * the log up to `seq`. The caller runs it inside one transaction so a crash leaves either the old
   * tiles with the whole log or the new tiles with the short one.
   */
  compact(canvas: CanvasState, seq: number): number {
    const tiles = canvas.takeDirtyTiles();
    try {
      for (const tile of tiles) {
        this.sql.exec(
          `INSERT INTO tiles (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data`,
          tile,
          canvas.readTile(tile),
        );
      }
      this.setMeta("tiles_seq", String(seq));
      this.sql.exec(`DELETE FROM frames WHERE seq <= ?`, seq - RETAIN_FRAMES);
    } catch (error) {
      canvas.markDirty(tiles);
      throw error;
    }
    this.logFrames = 0;
    this.logBytes = 0;
    return tiles.length;
  }
}
