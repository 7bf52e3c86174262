/** What the Arbiter (the worker pool) is built from: the settings' part, and the hooks' part. */
import type { RecyclingOptions } from './recycling';
import type { WorkerProcess, WorkerSpec } from './worker';

export interface ArbiterOptions {
  spec: WorkerSpec;
  workers: number;
  /** Milliseconds a request may run; 0 = forever. */
  timeoutMs: number;
  maxRequests: number;
  maxRequestsJitter: number;
  /** --workers-max-rss, --workers-lifetime and its jitter. */
  recycling?: RecyclingOptions;
  /**
   * --reload: a worker that fails to boot (at start, or a respawn) does not stop the server; it
   * is logged, and requests get 503 while no worker serves, until a change reloads.
   */
  waitForFixes?: boolean;
  /** The server hooks around a worker's life (pre_fork, child_exit, nworkers_changed), if any. */
  lifecycle?: WorkerLifecycle;
  /** --preload: the zygote forks each worker (hooks/zygote.ts) instead of a spawn. */
  fork?: (age: number) => Promise<WorkerProcess>;
}

export interface WorkerLifecycle {
  /** Before each spawn; false means do not spawn (a failed hook is stopping the server). */
  beforeSpawn(age: number): Promise<boolean>;
  spawned(pid: number, age: number): void;
  exited(pid: number, age: number): void;
  resized(size: number, old: number): void;
}
