/**
 * @module moderation-store
 * Who drew what, and what admins did about it, in the Canvas Durable Object's SQLite storage:
 *
 * - `identities`: each identity seen gets a small integer, so log rows stay small;
 * - `pixel_log`: one row per placed pixel (who, when, where, colour, frame), written in the same
 *   transaction as the frame that broadcasts it, so the log never misses a pixel anyone saw. Bounded
 *   by age and by row count, pruned from the oldest end;
 * - `bans`, `limits` (an admin's overrides of the `[vars]` defaults) and `audit_log`: every admin
 *   action with its actor and details.
 *
 * Rows are inserted a frame at a time with one statement (`json_each`), not a statement per pixel.
 */
import type { LimitsPatch } from "../limits.ts";
import { parseLimitsPatch } from "../limits.ts";
import type { Pixel } from "../protocol.ts";

/** The identity placements made by admins (wipes, rollbacks) are logged under. */
export const ADMIN_IDENTITY = "admin";
/** Identity numbers kept in memory before the cache starts again (they are in SQLite anyway). */
const IDENTITY_CACHE_MAX = 100_000;
/** Identities with no pixel left in the log are swept at most this often. */
const IDENTITY_SWEEP_EVERY_MS = 3_600_000;

export interface PixelLogEntry {
  identity: string;
  at: number;
  seq: number;
  colour: number;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  detail: unknown;
}

export interface Retention {
  /** Rows older than this are pruned. */
  maxAgeMs: number;
  /** At most this many rows are kept. */
  maxRows: number;
}

/** A placement to log: its pixels and the identity number of whoever placed them. */
export interface LoggedPlacement {
  origin: { who: number };
  pixels: readonly Pixel[];
}

export class ModerationStore {
  private readonly identityNumbers = new Map<string, number>();
  private lastIdentitySweep = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly sql: SqlStorage,
    private readonly width: number,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS identities (n INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE)`);
    sql.exec(
      `CREATE TABLE IF NOT EXISTS pixel_log (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, pos INTEGER NOT NULL,
        colour INTEGER NOT NULL, who INTEGER NOT NULL, at INTEGER NOT NULL)`,
    );
    // Latest placements at a coordinate (pixel info, rollback).
    sql.exec(`CREATE INDEX IF NOT EXISTS pixel_log_pos ON pixel_log (pos, id)`);
    // No index by identity: each frame's rows name a few hundred identities, so it dirtied a page per
    // identity per flush and cost more than the table and the pos index together (3.1 µs per row with
    // it, 1.3 without, measured in workerd), on the path every broadcast waits for. An identity's
    // placements since a time are a range of ids instead (ids grow with time), scanned by the rare
    // rollback. Older canvases drop the index once.
    sql.exec(`DROP INDEX IF EXISTS pixel_log_who`);
    sql.exec(`CREATE TABLE IF NOT EXISTS bans (token TEXT PRIMARY KEY, at INTEGER NOT NULL, reason TEXT NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS limits (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    sql.exec(
      `CREATE TABLE IF NOT EXISTS audit_log (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, detail TEXT NOT NULL)`,
    );
  }

  /** The small integer standing for `token` in the log, created on first use. */
  identityNumber(token: string): number {
    const cached = this.identityNumbers.get(token);
    if (cached !== undefined) return cached;
    const row = this.sql
      .exec(
        `INSERT INTO identities (token) VALUES (?) ON CONFLICT (token) DO UPDATE SET token = token RETURNING n`,
        token,
      )
      .one();
    const n = Number(row.n);
    if (this.identityNumbers.size >= IDENTITY_CACHE_MAX) this.identityNumbers.clear();
    this.identityNumbers.set(token, n);
    return n;
  }

  /** The number of `token` if it has ever been seen; undefined otherwise (nothing is created). */
  private knownIdentity(token: string): number | undefined {
    const cached = this.identityNumbers.get(token);
    if (cached !== undefined) return cached;
    const row = this.sql.exec(`SELECT n FROM identities WHERE token = ?`, token).toArray()[0];
    return row === undefined ? undefined : Number(row.n);
  }

  /** Logs one frame's placements in one statement. */
  logPlacements(seq: number, at: number, placements: readonly LoggedPlacement[]): void {
    const rows: string[] = [];
    for (const { origin, pixels } of placements) {
      for (const p of pixels) rows.push(`${p.y * this.width + p.x},${p.colour},${origin.who}`);
    }
    if (rows.length === 0) return;
    this.sql.exec(
      `INSERT INTO pixel_log (seq, pos, colour, who, at)
       SELECT ?, value ->> 0, value ->> 1, value ->> 2, ? FROM json_each(?)`,
      seq,
      at,
      `[[${rows.join("],[")}]]`,
    );
  }

  /** The newest placements at (x, y), newest first. */
  pixelHistory(x: number, y: number, limit: number): PixelLogEntry[] {
    const rows = this.sql.exec(
      `SELECT l.seq, l.colour, l.at, i.token FROM pixel_log l JOIN identities i ON i.n = l.who
       WHERE l.pos = ? ORDER BY l.id DESC LIMIT ?`,
      y * this.width + x,
      limit,
    );
    return rows.toArray().map((r) => ({
      identity: String(r.token),
      at: Number(r.at),
      seq: Number(r.seq),
      colour: Number(r.colour),
    }));
  }

  /**
   * What rolling back `identity` since `since` must paint: every coordinate where that identity's
   * placement since then is still on top, with the colour of the newest placement there that is not
   * one of them (0, the background, when the log holds none). Coordinates someone else drew over
   * since are left alone.
   */
  rollbackPlan(identity: string, since: number): Pixel[] {
    const who = this.knownIdentity(identity);
    if (who === undefined) return [];
    // Rows since `since` are the ids after the newest row older than it: found from the end, so
    // the scan is as long as the window, not the log.
    const before = this.sql.exec(`SELECT id FROM pixel_log WHERE at < ? ORDER BY id DESC LIMIT 1`, since).toArray()[0];
    const after = before === undefined ? 0 : Number(before.id);
    const rows = this.sql.exec(
      `WITH touched AS (SELECT DISTINCT pos FROM pixel_log WHERE id > ?3 AND who = ?1 AND at >= ?2),
       topped AS (
         SELECT pos FROM touched t
         WHERE (SELECT who FROM pixel_log l WHERE l.pos = t.pos ORDER BY l.id DESC LIMIT 1) = ?1
       )
       SELECT pos, (SELECT colour FROM pixel_log l WHERE l.pos = topped.pos AND NOT (l.who = ?1 AND l.at >= ?2)
                    ORDER BY l.id DESC LIMIT 1) AS colour
       FROM topped ORDER BY pos`,
      who,
      since,
      after,
    );
    return rows.toArray().map((r) => {
      const pos = Number(r.pos);
      return { x: pos % this.width, y: Math.floor(pos / this.width), colour: r.colour === null ? 0 : Number(r.colour) };
    });
  }

  /** Drops log rows older than the retention allows, oldest first. Returns how many went. */
  prune(now: number, retention: Retention): number {
    const before = this.sql.exec(`SELECT COALESCE(MAX(id), 0) AS max FROM pixel_log`).one();
    const max = Number(before.max);
    // Ids grow with time, so "too old" is a prefix of the id order: find where it ends.
    const firstKept = this.sql
      .exec(`SELECT id FROM pixel_log WHERE at >= ? ORDER BY id LIMIT 1`, now - retention.maxAgeMs)
      .toArray()[0];
    const byAge = firstKept === undefined ? max + 1 : Number(firstKept.id);
    const byCount = max - retention.maxRows + 1;
    const cut = Math.max(byAge, byCount);
    const cursor = this.sql.exec(`DELETE FROM pixel_log WHERE id < ?`, cut);
    const pruned = cursor.rowsWritten;
    // The sweep reads the whole log once: worth it now and then, not per compaction.
    if (pruned > 0 && now - this.lastIdentitySweep >= IDENTITY_SWEEP_EVERY_MS) {
      this.lastIdentitySweep = now;
      // Identities with no pixel left in the log are forgotten (bans are kept by token, not number).
      this.sql.exec(
        `DELETE FROM identities WHERE token <> ? AND n NOT IN (SELECT DISTINCT who FROM pixel_log)`,
        ADMIN_IDENTITY,
      );
      this.identityNumbers.clear();
    }
    return pruned;
  }

  logRows(): number {
    return Number(this.sql.exec(`SELECT COUNT(*) AS n FROM pixel_log`).one().n);
  }

  bans(): { identity: string; at: number; reason: string }[] {
    return this.sql
      .exec(`SELECT token, at, reason FROM bans ORDER BY at`)
      .toArray()
      .map((r) => ({ identity: String(r.token), at: Number(r.at), reason: String(r.reason) }));
  }

  setBan(identity: string, banned: boolean, at: number, reason: string): boolean {
    const cursor = banned
      ? this.sql.exec(
          `INSERT INTO bans (token, at, reason) VALUES (?, ?, ?) ON CONFLICT (token) DO NOTHING`,
          identity,
          at,
          reason,
        )
      : this.sql.exec(`DELETE FROM bans WHERE token = ?`, identity);
    return cursor.rowsWritten > 0;
  }

  /** The admin's stored overrides of the configured limits. */
  limitOverrides(): LimitsPatch {
    const raw: Record<string, unknown> = {};
    for (const row of this.sql.exec(`SELECT key, value FROM limits`)) {
      try {
        raw[String(row.key)] = JSON.parse(String(row.value));
      } catch {
        // A damaged row is ignored; the configured default applies.
      }
    }
    const parsed = parseLimitsPatch(raw);
    return parsed.ok ? parsed.patch : {};
  }

  saveLimitOverrides(patch: LimitsPatch): void {
    for (const [key, value] of Object.entries(patch)) {
      this.sql.exec(
        `INSERT INTO limits (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        key,
        JSON.stringify(value),
      );
    }
  }

  clearLimitOverrides(): void {
    this.sql.exec(`DELETE FROM limits`);
  }

  audit(at: number, actor: string, action: string, detail: unknown): number {
    const row = this.sql
      .exec(
        `INSERT INTO audit_log (at, actor, action, detail) VALUES (?, ?, ?, ?) RETURNING id`,
        at,
        actor,
        action,
        JSON.stringify(detail),
      )
      .one();
    return Number(row.id);
  }

  auditLog(limit: number): AuditEntry[] {
    return this.sql
      .exec(`SELECT id, at, actor, action, detail FROM audit_log ORDER BY id DESC LIMIT ?`, limit)
      .toArray()
      .map((r) => ({
        id: Number(r.id),
        at: Number(r.at),
        actor: String(r.actor),
        action: String(r.action),
        detail: JSON.parse(String(r.detail)) as unknown,
      }));
  }
}
