/**
 * @module bench/procfs
 * CPU time and memory of a process group, from /proc (Linux): how the benchmark charges work to the
 * runtime (wrangler and its workerd processes) rather than to the load generator.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface GroupUsage {
  /** User + system CPU, milliseconds, summed over the group's processes. */
  cpuMs: number;
  /** Resident memory, bytes, summed. */
  rssBytes: number;
  processes: number;
}

/** Sums CPU and RSS over every live process whose process group is `pgid`. */
export function groupUsage(pgid: number): GroupUsage {
  let cpuMs = 0;
  let rssBytes = 0;
  let processes = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // Fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue; // field 5: pgrp
    const utime = Number(fields[11]); // field 14
    const stime = Number(fields[12]); // field 15
    const rssPages = Number(fields[21]); // field 24
    cpuMs += ((utime + stime) * 1000) / TICKS_PER_SECOND;
    rssBytes += rssPages * 4096;
    processes += 1;
  }
  return { cpuMs, rssBytes, processes };
}
