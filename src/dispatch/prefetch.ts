/**
 * How many requests a busy worker may hold per thread beyond the one each thread runs: its
 * prefetch depth. The deeper, the more requests share one pipe write each way (and one wake-up
 * of the worker and of Node), which is where most of a small request's cost goes. The price is
 * head-of-line waiting: a prefetched request waits for the ones ahead of it in its worker even
 * when another worker frees up, and no one can take it back (an inline worker does not read its
 * pipe while the app runs).
 *
 * So the depth follows the worker's measured pace. `--prefetch` is always allowed. Past it, a
 * worker may hold as many as it is expected to answer within `--prefetch-time`, judged by how
 * fast its recent answers came, up to MAX_DEPTH. A worker whose answers take 20 µs goes deep;
 * one that renders Django templates at 1 ms stays at `--prefetch`. One slow answer pulls the
 * estimate up at once (its gap weighs 1/16 of the average, and a 1 s gap is huge), while speed
 * has to be shown over many answers before the depth grows again.
 */

/** The most requests per thread a worker may hold ahead, whatever its pace. */
export const MAX_DEPTH = 32;

/** Weight of the newest gap in the running average of the gap between answers. */
const WEIGHT = 1 / 16;

export class PrefetchDepth {
  /** Requests per thread the worker may hold beyond the one each thread runs. */
  depth: number;
  /** performance.now() at the last answer, or when the worker last went from idle to busy. */
  private mark = 0;
  /** Running average of the busy time between two answers, in ms; NaN until the first one. */
  private gap = Number.NaN;

  constructor(
    private readonly floor: number,
    private readonly budgetMs: number,
    private readonly threads: number,
  ) {
    this.depth = floor;
  }

  /** A request was handed to the worker; `wasIdle`: nothing else was in flight on it. */
  started(now: number, wasIdle: boolean): void {
    // Time spent idle is not the worker's pace: the next gap starts now.
    if (wasIdle) this.mark = now;
  }

  /** A request ended on the worker (its END or ERROR arrived). */
  finished(now: number): void {
    if (this.floor === 0 || this.budgetMs === 0) return;
    const gap = now - this.mark;
    this.mark = now;
    this.gap = Number.isNaN(this.gap) ? gap : this.gap + (gap - this.gap) * WEIGHT;
    // The threads drain threads × depth waiting requests, one per `gap` on average.
    const fits = Math.floor(this.budgetMs / (this.gap * this.threads));
    this.depth = fits <= this.floor ? this.floor : fits >= MAX_DEPTH ? MAX_DEPTH : fits;
  }
}
