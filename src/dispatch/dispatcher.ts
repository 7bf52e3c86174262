/**
 * Hands each exchange to the least-busy worker that has a free thread; when every thread is
 * busy the exchange waits in a bounded FIFO queue, and past the bound it is answered 503.
 */
import type { Exchange } from '../exchange';
import { HttpError } from '../errors';

/** What the dispatcher needs of a worker; workers/ implements it. */
export interface Runner {
  readonly inflight: number;
  readonly capacity: number;
  /** False while booting, retiring or dead. */
  readonly accepting: boolean;
  run(exchange: Exchange): void;
}

export class Dispatcher {
  private readonly runners = new Set<Runner>();
  private readonly queue: Exchange[] = [];
  private head = 0;
  /** Requests answered 503 because the queue was full (for /metrics). */
  rejected = 0;
  /** Set while no worker can come without a reload (--reload, an app that failed to boot). */
  private refusal: HttpError | null = null;

  constructor(private readonly maxQueued: number) {}

  add(runner: Runner): void {
    this.refusal = null;
    this.runners.add(runner);
    this.pump();
  }

  /** Answers every exchange, queued or to come, with `error` until a runner is added. */
  refuse(error: HttpError): void {
    this.refusal = error;
    this.drain(error);
  }

  remove(runner: Runner): void {
    this.runners.delete(runner);
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  dispatch(exchange: Exchange): void {
    if (this.refusal) {
      exchange.sink.fail(this.refusal);
      return;
    }
    if (this.queued === 0) {
      const runner = this.pick();
      if (runner) {
        runner.run(exchange);
        return;
      }
    }
    if (this.queued >= this.maxQueued) {
      this.rejected++;
      exchange.sink.fail(new HttpError(503, 'ERR_QUEUE_FULL', `all workers busy and ${this.maxQueued} requests queued`));
      return;
    }
    this.queue.push(exchange);
  }

  /** Called whenever a worker frees a thread or joins: moves queued exchanges onto workers. */
  pump(): void {
    while (this.head < this.queue.length) {
      const exchange = this.queue[this.head] as Exchange;
      if (exchange.aborted) {
        this.shift();
        continue;
      }
      const runner = this.pick();
      if (!runner) break;
      this.shift();
      runner.run(exchange);
    }
  }

  /** Answers every queued exchange with `error` (used when the server stops). */
  drain(error: HttpError): void {
    while (this.queued > 0) {
      const exchange = this.shift();
      if (!exchange.aborted) exchange.sink.fail(error);
    }
  }

  private shift(): Exchange {
    const exchange = this.queue[this.head] as Exchange;
    this.queue[this.head++] = undefined as unknown as Exchange;
    // Compact now and then instead of Array.shift(), which is O(n) per call.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return exchange;
  }

  private pick(): Runner | undefined {
    let best: Runner | undefined;
    for (const runner of this.runners) {
      if (!runner.accepting || runner.inflight >= runner.capacity) continue;
      if (!best || runner.inflight < best.inflight) best = runner;
      if (runner.inflight === 0) break;
    }
    return best;
  }
}
