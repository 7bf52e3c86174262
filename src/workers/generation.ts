/**
 * A reload's new workers, booting beside the ones that serve. Nothing is dispatched to them
 * until every one has said READY; then they take over at once (the arbiter's commit). If one of
 * them fails to boot, the whole generation is killed and the serving workers stay: a reload can
 * never leave the server with fewer working workers than it had.
 */
import type { Worker } from './worker';

export class Generation {
  private readonly workers = new Set<Worker>();
  private readonly ready = new Set<Worker>();
  /** Workers still to come (their pre_fork hook runs first). */
  private reserved = 0;
  /** Killed: its workers' exits are expected and mean nothing. */
  abandoned = false;

  /** A worker will be added once its pre_fork hook returns: until then the generation is not ready. */
  reserve(): void {
    this.reserved++;
  }

  add(worker: Worker): void {
    if (this.reserved > 0) this.reserved--;
    this.workers.add(worker);
  }

  has(worker: Worker): boolean {
    return this.workers.has(worker);
  }

  get size(): number {
    return this.workers.size;
  }

  /** Records a READY; true once every worker of the generation is ready. */
  markReady(worker: Worker): boolean {
    this.ready.add(worker);
    return !this.abandoned && this.reserved === 0 && this.ready.size === this.workers.size;
  }

  /** The workers, to hand over to the pool on commit. */
  members(): Worker[] {
    return [...this.workers];
  }

  /** Kills every worker of the generation: none has been given a request, so nothing is lost. */
  abandon(): void {
    this.abandoned = true;
    for (const worker of this.workers) worker.kill();
  }
}
