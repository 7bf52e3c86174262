/**
 * The --timeout check and the stack dumps that go with it: a worker holding a request past the
 * timeout has its Python stacks logged under the requests it holds, then is aborted (its
 * worker_abort hook, if defined) and killed. The same dump, without the kill, on demand.
 */
import type { Logger } from '../log/logger';
import type { Worker } from './worker';

/** Logs `worker`'s stacks under one header naming its pid and the requests it holds. */
export async function logStacks(worker: Worker, why: string, log: Logger, level: 'error' | 'warning'): Promise<void> {
  const held = worker.requestLines();
  const stacks = await worker.stacks();
  const requests = held.length ? `running ${held.join(', ')}` : 'idle';
  log[level](`${why}: stacks of worker ${worker.pid} (${requests}):\n${stacks || '(no stack dump arrived)'}`, { pid: worker.pid });
}

/** Aborts, once their stacks are logged, the workers whose oldest request runs past `timeoutMs`. */
export function checkDeadlines(workers: Iterable<Worker>, timeoutMs: number, timedOut: WeakSet<Worker>, log: Logger): void {
  const now = performance.now();
  for (const worker of workers) {
    if (worker.state === 'dead' || timedOut.has(worker)) continue;
    if (now - worker.oldestStart() > timeoutMs) {
      log.critical(`WORKER TIMEOUT (pid:${worker.pid})`);
      timedOut.add(worker);
      void logStacks(worker, 'WORKER TIMEOUT', log, 'error').finally(() => worker.abort());
    }
  }
}

/** On demand (SIGURG to the master): every ready worker's stacks, nothing killed. */
export function dumpAllStacks(workers: Iterable<Worker>, log: Logger): void {
  for (const worker of workers) {
    if (worker.wasReady && worker.state !== 'dead') void logStacks(worker, 'Stack dump', log, 'warning');
  }
}
