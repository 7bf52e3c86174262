// A server with several front ends (--frontends N) seen from outside (Linux /proc): its process
// tree by title, and which front end answered (fixtures/apps/frontend_app.py says its parent).
import { readFileSync } from 'node:fs';
import { APPS } from './paths.mjs';
import { childPids } from './process.mjs';
import { serverFor } from './server.mjs';
import { waitUntil } from './wait.mjs';

/** An answer of frontend_app.py: "<front end pid> <worker pid>". */
export const answered = (res) => res.status === 200 && /^\d+ \d+$/.test(res.text());

/**
 * frontend_app.py served by `workers` workers under `frontends` front ends, once every front end
 * and worker process runs (killed when test `t` ends).
 */
export async function withFrontends(t, workers, frontends, extra = [], opts = {}) {
  const server = await serverFor(t, ['frontend_app:app', '--chdir', APPS, '-w', String(workers), '--frontends', String(frontends), ...extra], { waitWorkers: workers, ...opts });
  const up = await waitUntil(() => frontendsOf(server.pid).length === Math.min(frontends, workers) && workersOf(server.pid).length === workers, 15_000);
  if (!up) throw new Error(`front ends and workers not up within 15 s:\n${server.stderrText()}`);
  return server;
}

/** A process's title as `ps` shows it (its /proc cmdline), or null once it is gone. */
export function title(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return null;
  }
}

/** The front ends of master `pid`: [{ pid, index, count }] by their "nodicorn: frontend i/N" titles. */
export function frontendsOf(pid) {
  const found = [];
  for (const child of safeChildren(pid)) {
    const m = /^nodicorn: frontend (\d+)\/(\d+) /.exec(title(child) ?? '');
    if (m) found.push({ pid: child, index: Number(m[1]), count: Number(m[2]) });
  }
  return found.sort((a, b) => a.index - b.index);
}

/** The Python workers of every front end of master `pid`: [{ pid, frontend }]. */
export function workersOf(pid) {
  return frontendsOf(pid).flatMap((f) => safeChildren(f.pid).map((w) => ({ pid: w, frontend: f.pid })));
}

/** childPids, or [] for a process that is gone. */
export function safeChildren(pid) {
  try {
    return childPids(pid);
  } catch {
    return [];
  }
}

/** The front end that served an answer of frontend_app.py. */
export const frontendPid = (res) => Number(res.get('x-frontend-pid'));

/** Counts per front-end pid, as "pid: n (p %)" for a diagnostic. */
export function split(counts) {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return [...counts].map(([pid, n]) => `${pid}: ${n} (${((100 * n) / Math.max(1, total)).toFixed(1)} %)`).join(', ');
}
