/**
 * Memory and CPU read at scrape time, never per request: a worker's resident set from
 * /proc/PID/statm, and the Node process's own figures (the names prom-client's default metrics
 * use, so existing dashboards read them).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Exposition } from './exposition';

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

/** The Node process's CPU, memory and descriptors, written into a scrape. */
export function writeNodeProcess(out: Exposition): void {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  out.counter('process_cpu_user_seconds', 'User CPU time of the Node process, in seconds.', [[{}, cpu.user / 1e6]]);
  out.counter('process_cpu_system_seconds', 'System CPU time of the Node process, in seconds.', [[{}, cpu.system / 1e6]]);
  out.counter('process_cpu_seconds', 'User and system CPU time of the Node process, in seconds.', [[{}, (cpu.user + cpu.system) / 1e6]]);
  out.gauge('process_start_time_seconds', 'When the Node process started, in seconds since the Unix epoch.', [[{}, START_SECONDS]]);
  out.gauge('process_resident_memory_bytes', 'Resident memory of the Node process, in bytes.', [[{}, memory.rss]]);
  const fds = openFds();
  if (fds !== null) out.gauge('process_open_fds', 'Open file descriptors of the Node process.', [[{}, fds]]);
  out.gauge('nodejs_heap_size_total_bytes', 'V8 heap size, in bytes.', [[{}, memory.heapTotal]]);
  out.gauge('nodejs_heap_size_used_bytes', 'V8 heap used, in bytes.', [[{}, memory.heapUsed]]);
  out.gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects, in bytes.', [[{}, memory.external]]);
  out.gauge('nodejs_version_info', 'The Node.js version.', [[{ version: process.version, major: process.versions.node.split('.')[0] ?? '' }, 1]]);
}
