/**
 * Memory and CPU read at scrape time, never per request: a worker's resident set from
 * /proc/PID/statm, and the Node process's own figures (the names prom-client's default metrics
 * use, so existing dashboards read them).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Exposition, Labels } from './exposition';

/** The kernel's page size, as /proc/self/statm's resident pages against the RSS Node reports. */
let pageSize = 0;
function pageBytes(): number {
  if (pageSize === 0) {
    const pages = residentPages('self');
    const rss = process.memoryUsage.rss();
    // The nearest power of two of the ratio: 4096 on most Linux machines, 16384 or 65536 on some arm64.
    pageSize = pages ? 2 ** Math.round(Math.log2(rss / pages)) : 4096;
  }
  return pageSize;
}

function residentPages(pid: number | 'self'): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ');
    const pages = Number(fields[1]);
    return Number.isFinite(pages) ? pages : null;
  } catch {
    return null;
  }
}

/** A worker's resident set in bytes, or null where /proc cannot tell (gone, or not Linux). */
export function workerRss(pid: number): number | null {
  const pages = residentPages(pid);
  return pages === null ? null : pages * pageBytes();
}

function openFds(): number | null {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

const START_SECONDS = Math.round((Date.now() - process.uptime() * 1000) / 1000);

/** A Node process's CPU, memory and descriptors: plain numbers, so a front end can send them to its master. */
export interface ProcessFigures {
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  startSeconds: number;
  rss: number;
  openFds: number | null;
  heapTotal: number;
  heapUsed: number;
  external: number;
  version: string;
}

/** One Node process in a scrape: labelled (the master and each front end) or not (a single process). */
export interface NodeProcess {
  readonly labels: Labels;
  readonly figures: ProcessFigures;
}

/** This process's figures, read now. */
export function nodeProcessFigures(): ProcessFigures {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return {
    cpuUserSeconds: cpu.user / 1e6,
    cpuSystemSeconds: cpu.system / 1e6,
    startSeconds: START_SECONDS,
    rss: memory.rss,
    openFds: openFds(),
    heapTotal: memory.heapTotal,
    heapUsed: memory.heapUsed,
    external: memory.external,
    version: process.version,
  };
}

/** The Node processes' CPU, memory and descriptors, written into a scrape: one sample per process in each family. */
export function writeNodeProcesses(out: Exposition, processes: readonly NodeProcess[]): void {
  const each = (pick: (f: ProcessFigures) => number | null): Array<[Labels, number]> =>
    processes.flatMap(({ labels, figures }) => {
      const value = pick(figures);
      return value === null ? [] : [[labels, value] as [Labels, number]];
    });
  out.counter('process_cpu_user_seconds', 'User CPU time of the Node process, in seconds.', each((f) => f.cpuUserSeconds));
  out.counter('process_cpu_system_seconds', 'System CPU time of the Node process, in seconds.', each((f) => f.cpuSystemSeconds));
  out.counter('process_cpu_seconds', 'User and system CPU time of the Node process, in seconds.', each((f) => f.cpuUserSeconds + f.cpuSystemSeconds));
  out.gauge('process_start_time_seconds', 'When the Node process started, in seconds since the Unix epoch.', each((f) => f.startSeconds));
  out.gauge('process_resident_memory_bytes', 'Resident memory of the Node process, in bytes.', each((f) => f.rss));
  const fds = each((f) => f.openFds);
  if (fds.length > 0) out.gauge('process_open_fds', 'Open file descriptors of the Node process.', fds);
  out.gauge('nodejs_heap_size_total_bytes', 'V8 heap size, in bytes.', each((f) => f.heapTotal));
  out.gauge('nodejs_heap_size_used_bytes', 'V8 heap used, in bytes.', each((f) => f.heapUsed));
  out.gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects, in bytes.', each((f) => f.external));
  const versions = processes.map(({ labels, figures }): [Labels, number] => [{ ...labels, version: figures.version, major: figures.version.replace(/^v/, '').split('.')[0] ?? '' }, 1]);
  out.gauge('nodejs_version_info', 'The Node.js version.', versions);
}
