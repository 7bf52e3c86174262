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
  /** Killed: its workers' exits are expected and mean nothing. */
  private abandoned = false;

  add(worker: Worker): void {
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
    return !this.abandoned && this.ready.size === this.workers.size;
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
