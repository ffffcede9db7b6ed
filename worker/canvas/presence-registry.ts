/**
 * @module presence-registry
 * Who is online, as the edge isolates report it. Each isolate counts its own client sockets and
 * reports the count, numbered; the registry keeps the newest report per isolate, ignores older ones
 * that arrive late, sums the live ones into a total and per-region totals, and forgets an isolate
 * that has been silent longer than the expiry window (a crashed or evicted isolate says no goodbye).
 *
 * An isolate that reports 0 stays registered until it expires: its report number must still be
 * remembered, or a late, older report would bring its sockets back.
 */

export interface IsolateReport {
  isolateId: string;
  region: string;
  count: number;
  reportSeq: number;
  /** When the report arrived (ms since the epoch, the registry's clock). */
  receivedAt: number;
}

export interface PresenceTotals {
  total: number;
  /** Regions with at least one socket, by name. */
  regions: { region: string; count: number }[];
}

export class PresenceRegistry {
  private readonly reports = new Map<string, IsolateReport>();

  constructor(readonly expiryMs: number) {}

  /** Records a report; false (and nothing changes) when an equal or newer one is already held. */
  apply(report: IsolateReport): boolean {
    const known = this.reports.get(report.isolateId);
    if (known && report.reportSeq <= known.reportSeq) return false;
    this.reports.set(report.isolateId, { ...report });
    return true;
  }

  /** Forgets isolates silent for `expiryMs` or longer; returns their ids. */
  expire(now: number): string[] {
    const gone: string[] = [];
    for (const [id, report] of this.reports) {
      if (now - report.receivedAt >= this.expiryMs) {
        this.reports.delete(id);
        gone.push(id);
      }
    }
    return gone;
  }

  /** When the next isolate will expire if it stays silent; undefined when none is registered. */
  nextExpiry(): number | undefined {
    let oldest: number | undefined;
    for (const report of this.reports.values()) {
      if (oldest === undefined || report.receivedAt < oldest) oldest = report.receivedAt;
    }
    return oldest === undefined ? undefined : oldest + this.expiryMs;
  }

  totals(): PresenceTotals {
    let total = 0;
    const byRegion = new Map<string, number>();
    for (const report of this.reports.values()) {
      if (report.count === 0) continue;
      total += report.count;
      byRegion.set(report.region, (byRegion.get(report.region) ?? 0) + report.count);
    }
    const regions = [...byRegion]
      .map(([region, count]) => ({ region, count }))
      .sort((a, b) => (a.region < b.region ? -1 : a.region > b.region ? 1 : 0));
    return { total, regions };
  }

  entries(): IsolateReport[] {
    return [...this.reports.values()];
  }
}

/** Whether two totals differ (so a Presence frame is worth sending). */
export function totalsDiffer(a: PresenceTotals, b: PresenceTotals): boolean {
  if (a.total !== b.total || a.regions.length !== b.regions.length) return true;
  return a.regions.some((r, i) => r.region !== b.regions[i]?.region || r.count !== b.regions[i]?.count);
}
