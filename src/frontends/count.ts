/**
 * How many front ends, and which of the workers each one owns. A front end never has no worker,
 * so there are never more front ends than workers.
 */
import { availableParallelism } from 'node:os';

/** A Flask view's worker costs about this many times what its front end spends on the request. */
export const WORKER_CORES_PER_FRONTEND = 4;

/** --frontends as given, for `workers` workers on `cores` cores. */
export function frontendCount(setting: number | 'auto', workers: number, cores: number = availableParallelism()): number {
  if (setting !== 'auto') return Math.max(1, Math.min(setting, workers));
  const busy = Math.min(workers, cores);
  return Math.max(1, Math.ceil(busy / WORKER_CORES_PER_FRONTEND - 1e-9));
}

/** `workers` split over `n` front ends as evenly as they go: the first ones get the extra one. */
export function shares(workers: number, n: number): number[] {
  const base = Math.floor(workers / n);
  const extra = workers % n;
  return Array.from({ length: n }, (_, i) => base + (i < extra ? 1 : 0));
}
