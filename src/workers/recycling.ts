/**
 * Worker recycling by resident memory (--workers-max-rss) and by age (--workers-lifetime), on the
 * master's own clock: once a second each serving worker's RSS is read from /proc and its age
 * compared with its lifetime, never per request. A worker over either is handed to the
 * arbiter's recycle, as one past --max-requests is: it takes no new request, finishes what it
 * holds, and a new worker takes its place. The restart counters by reason live here too, for
 * whatever reports them (/metrics).
 */
import { existsSync } from 'node:fs';
import type { Logger } from '../log/logger';
import { workerRss } from '../ops/process-stats';
import type { Worker } from './worker';

export interface RecyclingOptions {
  /** --workers-max-rss, in MiB; 0 = no limit. */
  maxRssMiB: number;
  /** --workers-lifetime and its jitter, in seconds; 0 = forever. */
  lifetimeS: number;
  lifetimeJitterS: number;
}

export const NO_RECYCLING: RecyclingOptions = { maxRssMiB: 0, lifetimeS: 0, lifetimeJitterS: 0 };

/** Why a worker was replaced. */
export type RestartReason = 'timeout' | 'crash' | 'max-requests' | 'rss' | 'lifetime' | 'reload';
export type RestartCounts = Record<RestartReason, number>;

export function restartCounts(): RestartCounts {
  return { timeout: 0, crash: 0, 'max-requests': 0, rss: 0, lifetime: 0, reload: 0 };
}

const TICK_MS = 1000;
/** Whether this platform shows a process's memory in /proc (Linux), looked at once. */
const HAS_PROC = existsSync('/proc/self/statm');
const MIB = 1024 * 1024;

export class Recycling {
  private clock: NodeJS.Timeout | undefined;
  /** Each worker's random extra lifetime, drawn once when first seen. */
  private readonly jitter = new WeakMap<Worker, number>();
  private warned = false;

  constructor(
    private readonly options: () => RecyclingOptions | undefined,
    private readonly workers: () => Iterable<Worker>,
    private readonly recycle: (worker: Worker, why: string, reason: RestartReason) => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.stop();
    this.warnIfBlind();
    // Always ticking (cheaply) so a HUP that turns either setting on takes effect.
    this.clock = setInterval(() => this.check(), TICK_MS);
    this.clock.unref();
  }

  /** Once, at startup (or at the HUP that sets it): without /proc there is no RSS to read. */
  private warnIfBlind(): void {
    if (this.warned || (this.options()?.maxRssMiB ?? 0) <= 0 || HAS_PROC) return;
    this.warned = true;
    this.log.warning('--workers-max-rss has no effect here: this platform has no /proc to read a worker\'s memory from');
  }

  stop(): void {
    if (this.clock) clearInterval(this.clock);
    this.clock = undefined;
  }

  /** One tick: every ready worker past its lifetime or over the RSS limit is recycled. */
  check(now: number = performance.now()): void {
    const { maxRssMiB, lifetimeS, lifetimeJitterS } = this.options() ?? NO_RECYCLING;
    if (maxRssMiB <= 0 && lifetimeS <= 0) return;
    if (maxRssMiB > 0) this.warnIfBlind();
    for (const worker of [...this.workers()]) {
      if (worker.state !== 'ready') continue;
      if (lifetimeS > 0) {
        let extra = this.jitter.get(worker);
        if (extra === undefined) this.jitter.set(worker, (extra = Math.random() * lifetimeJitterS));
        const ageS = (now - worker.bornAt) / 1000;
        if (ageS > lifetimeS + extra) {
          this.recycle(worker, `${ageS.toFixed(1)} s (--workers-lifetime ${lifetimeS} s)`, 'lifetime');
          continue;
        }
      }
      if (maxRssMiB > 0) {
        const rss = workerRss(worker.pid);
        if (rss !== null && rss > maxRssMiB * MIB) {
          this.recycle(worker, `its rss reached ${(rss / MIB).toFixed(1)} MiB (--workers-max-rss ${maxRssMiB})`, 'rss');
        }
      }
    }
  }
}
