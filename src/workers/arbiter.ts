/**
 * Keeps the pool of Python workers at its size: spawns, reaps and respawns them, recycles them
 * after --max-requests (and by RSS and age: recycling.ts), kills the ones holding a request past
 * --timeout (Node owns the clock: no heartbeat files), swaps in a new generation on reload, and
 * stops them gracefully.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from '../dispatch/dispatcher';
import { ConfigError, ExitCode, HttpError, NodicornError } from '../errors';
import { EXCEPTION, type Logger } from '../log/logger';
import { requestLine, Worker, type WorkerHooks, type WorkerProcess } from './worker';
import type { ArbiterOptions } from './arbiter-options';
import type { AppError } from './channel';
import { Generation } from './generation';
import type { Exchange } from '../exchange';
import { Recycling, restartCounts, type RestartReason } from './recycling';
import { checkDeadlines, dumpAllStacks } from './deadlines';

export type { ArbiterOptions, WorkerLifecycle } from './arbiter-options';

export class Arbiter {
  /** The serving workers (and the retiring ones still finishing requests). */
  private readonly workers = new Set<Worker>();
  /** A reload's workers while they boot; not in `workers` until they all are ready. */
  private pending: Generation | undefined;
  private size: number;
  private age = 0;
  /** Spawns waiting for their pre_fork hook. */
  private forking = 0;
  private stopping = false;
  /** When stop() stops waiting for in-flight requests. */
  private stopDeadline = 0;
  private clock: NodeJS.Timeout | undefined;
  private readonly timedOut = new WeakSet<Worker>();
  /** Workers replaced, by why (for /metrics). */
  readonly restarts = restartCounts();
  private booted: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private fatalListener: (err: NodicornError) => void = () => {};
  private modulesListener: (files: string[]) => void = () => {};
  private readonly hooks: WorkerHooks;
  private readonly recycling: Recycling;

  constructor(
    private options: ArbiterOptions,
    private readonly dispatcher: Dispatcher,
    private readonly log: Logger,
  ) {
    this.size = options.workers;
    this.hooks = {
      ready: (w) => this.onReady(w),
      bootError: (w, e) => this.onBootError(w, e),
      appError: (w, e, ex) => this.onAppError(w, e, ex),
      released: () => this.dispatcher.pump(),
      exhausted: (w) => this.recycle(w),
      exited: (w, code, signal) => this.onExit(w, code, signal),
      modules: (_w, files) => this.modulesListener(files),
    };
    this.recycling = new Recycling(() => this.options.recycling, () => this.workers, (w, why, reason) => this.recycle(w, why, reason), log);
  }

  /** Spawns the pool; resolves once every worker said READY, rejects on a boot failure. */
  start(): Promise<void> {
    const booted = new Promise<void>((resolve, reject) => (this.booted = { resolve, reject }));
    for (let i = 0; i < this.size; i++) this.spawn();
    this.startClock();
    this.recycling.start();
    return booted;
  }

  /** The --timeout check, every quarter of the timeout (between 50 ms and 1 s). */
  private startClock(): void {
    if (this.clock) clearInterval(this.clock);
    this.clock = undefined;
    const { timeoutMs } = this.options;
    if (timeoutMs > 0) {
      this.clock = setInterval(() => checkDeadlines(this.workers, this.options.timeoutMs, this.timedOut, this.log), Math.min(1000, Math.max(50, timeoutMs / 4)));
      this.clock.unref();
    }
  }

  /** A worker failed to boot after start-up (a respawn): the server must stop. */
  onFatal(listener: (err: NodicornError) => void): void {
    this.fatalListener = listener;
  }

  /** The source files each worker reports it loaded (workers started with reportModules). */
  onModules(listener: (files: string[]) => void): void {
    this.modulesListener = listener;
  }

  get pids(): number[] {
    return [...this.workers].map((w) => w.pid);
  }

  /** Every worker of the pool (a booting reload's aside) and its state. */
  get members(): Array<{ pid: number; state: string }> {
    return [...this.workers].map((w) => ({ pid: w.pid, state: w.state }));
  }

  /** Sends `signal` to the workers that finished booting (before that, they have no handlers). */
  signalReady(signal: NodeJS.Signals): void {
    for (const w of this.workers) {
      if (!w.wasReady || w.state === 'dead') continue;
      try {
        process.kill(w.pid, signal);
      } catch {
        // Exited since: its 'exit' is on its way.
      }
    }
  }

  /**
   * SIGHUP and --reload: a new generation of workers boots beside the serving ones; once all of
   * it is ready it takes over and the old workers finish what they hold and exit. If one of it
   * fails to boot, it is killed and the old workers keep serving. A reload while another is
   * still booting replaces that one (it holds no requests).
   */
  reload(): void {
    if (this.stopping) return;
    if (this.pending) {
      this.log.info('Reload: a newer reload replaces the generation still booting');
      this.pending.abandon();
    }
    const generation = new Generation();
    this.pending = generation;
    for (let i = 0; i < this.size; i++) this.spawn(generation);
    // After WINCH (size 0) there is nothing to wait for.
    if (this.size === 0) this.commit(generation);
    // As gunicorn kills a worker that stays silent past --timeout, booting included.
    const { timeoutMs } = this.options;
    if (timeoutMs > 0) {
      setTimeout(() => {
        if (this.pending === generation) this.abandonReload(`the new workers did not boot within --timeout (${timeoutMs / 1000} s)`);
      }, timeoutMs).unref();
    }
  }

  /** SIGTTIN / SIGTTOU. */
  resize(delta: number): void {
    // After WINCH (size 0) only TTIN brings a worker back.
    if (delta < 0 && this.size <= 1) return;
    const size = Math.max(1, this.size + delta);
    if (size === this.size) return;
    const old = this.size;
    this.size = size;
    this.log.info(`number of workers: ${size}`);
    this.options.lifecycle?.resized(size, old);
    // A booting generation takes the new size when it commits.
    if (this.pending) return;
    if (delta > 0) this.spawn();
    else {
      // An idle one if there is one. With none ready (a TTOU right after TTIN), the first to
      // say READY goes instead (see onReady).
      const ready = [...this.workers].filter((w) => w.state === 'ready');
      const victim = ready.find((w) => w.inflight === 0) ?? ready[0];
      victim?.retire();
      if (victim) this.dispatcher.remove(victim);
    }
  }

  /**
   * HUP with the configuration read again: the workers spawned from now on get these options.
   * `resize`: take its worker count too (else the size TTIN/TTOU left holds).
   */
  configure(options: ArbiterOptions, resize: boolean): void {
    const clockChanged = options.timeoutMs !== this.options.timeoutMs;
    this.options = options;
    if (resize) this.size = options.workers;
    if (clockChanged && !this.stopping) this.startClock();
  }

  /** SIGWINCH of a daemonized master: no workers until TTIN asks for one; requests wait. */
  stopWorkers(): void {
    this.log.info('graceful stop of workers');
    this.size = 0;
    this.pending?.abandon();
    this.pending = undefined;
    for (const worker of [...this.workers]) {
      this.dispatcher.remove(worker);
      worker.retire();
    }
  }

  /** SIGURG: every worker's Python stacks into the error log, nothing killed. */
  dumpStacks(): void {
    dumpAllStacks(this.workers, this.log);
  }

  /** QUIT during a graceful stop: in-flight requests are not waited for any longer. */
  hurry(): void {
    this.stopDeadline = 0;
  }

  /**
   * Stops taking work and lets in-flight requests finish within `graceMs`; then the pipes close
   * (workers exit on EOF) and whatever is left is killed.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.clock) clearInterval(this.clock);
    this.recycling.stop();
    this.pending?.abandon();
    this.pending = undefined;
    // A stop during boot: start() has nothing left to wait for.
    this.booted?.resolve();
    this.booted = undefined;
    this.stopDeadline = Date.now() + graceMs;
    // After WINCH no worker is left to answer the requests accepted since: one boots for them.
    if (graceMs > 0 && this.dispatcher.queued > 0 && this.serving() === 0) this.spawn();
    while (Date.now() < this.stopDeadline && (this.dispatcher.queued > 0 || [...this.workers].some((w) => w.inflight > 0))) {
      await sleep(20);
    }
    this.dispatcher.drain(new HttpError(503, 'ERR_SHUTTING_DOWN', 'the server is stopping'));
    // Settled once each worker's exit was handled (its pipe read to the end, child_exit called).
    const exits = [...this.workers].map((w) => w.gone);
    for (const w of this.workers) {
      if (graceMs === 0 && w.quitsFirst) w.quit();
      else if (w.inflight > 0) {
        this.log.warning(`worker ${w.pid} still busy after the graceful timeout: killed`);
        w.kill();
      } else w.retire();
    }
    const killer = setTimeout(() => {
      for (const w of this.workers) w.kill();
    }, 5000);
    await Promise.all(exits);
    clearTimeout(killer);
  }

  /** A new worker, for the serving pool or for a booting `generation`: after pre_fork, if defined. */
  private spawn(generation?: Generation): void {
    const age = ++this.age;
    const { lifecycle, fork } = this.options;
    if (!lifecycle && !fork) {
      this.launch(age, generation);
      return;
    }
    this.forking++;
    generation?.reserve();
    void this.prepare(age).then((prepared) => {
      this.forking--;
      if (prepared && !this.stopping && !generation?.abandoned) {
        const worker = this.launch(age, generation, prepared.forked);
        lifecycle?.spawned(worker.pid, age);
      }
      else {
        prepared?.forked?.kill('SIGKILL');
        this.settleBoot();
      }
    });
  }

  /** pre_fork, then the fork (--preload); null when the worker is not to be started. */
  private async prepare(age: number): Promise<{ forked?: WorkerProcess } | null> {
    const { lifecycle, fork } = this.options;
    if (lifecycle && !(await lifecycle.beforeSpawn(age))) return null;
    if (!fork) return {};
    try {
      return { forked: await fork(age) };
    } catch (err) {
      this.fail(new NodicornError('ERR_WORKER_BOOT', `cannot fork a worker: ${(err as Error).message}`, ExitCode.WORKER_BOOT));
      return null;
    }
  }

  private launch(age: number, generation?: Generation, forked?: WorkerProcess): Worker {
    const { spec, maxRequests, maxRequestsJitter } = this.options;
    // Jitter staggers the recycling so all workers do not restart at once.
    const limit = maxRequests > 0 ? maxRequests + Math.floor(Math.random() * (maxRequestsJitter + 1)) : 0;
    const worker = new Worker(spec, age, limit, this.log, this.hooks, forked);
    if (generation) generation.add(worker);
    else this.workers.add(worker);
    this.log.info(`Booting worker with pid: ${worker.pid}`);
    return worker;
  }

  private recycle(worker: Worker, why = `${worker.served} requests`, reason: RestartReason = 'max-requests'): void {
    if (worker.state === 'retiring' || worker.state === 'dead' || this.stopping) return;
    this.log.info(`Autorestarting worker ${worker.pid} after ${why}`, { reason });
    this.restarts[reason]++;
    this.dispatcher.remove(worker);
    worker.retire();
    this.spawn();
  }

  private onReady(worker: Worker): void {
    if (this.stopping) {
      // Requests accepted before the stop still wait for a worker: this one answers them first.
      if (this.dispatcher.queued > 0 && this.workers.has(worker)) this.dispatcher.add(worker);
      else worker.retire();
      return;
    }
    // A reload's worker: it counts once its whole generation is ready (the size is set then).
    if (!this.workers.has(worker)) {
      if (this.pending?.has(worker) && this.pending.markReady(worker)) this.commit(this.pending);
      return;
    }
    if (this.serving() > this.size) {
      worker.retire();
      return;
    }
    this.dispatcher.add(worker);
    this.settleBoot();
  }

  /** start() resolves once no worker of the pool is still booting. */
  private settleBoot(): void {
    if (this.booted && this.forking === 0 && [...this.workers].every((w) => w.state !== 'booting')) {
      this.booted.resolve();
      this.booted = undefined;
    }
  }

  private onBootError(worker: Worker, error: AppError): void {
    const reloading = this.pending?.has(worker) ?? false;
    // A worker of an abandoned generation: its failure was told already, or it was killed.
    if (!reloading && !this.workers.has(worker)) return;
    this.log.error(`Exception in worker process ${worker.pid}:\n${error.traceback || `${error.type}: ${error.message}`}`, { [EXCEPTION]: true });
    if (reloading) {
      this.abandonReload(`worker ${worker.pid} failed to boot (${error.type}: ${error.message})`);
      return;
    }
    // A log config the worker could not apply is a bad setting (its message names the flag).
    if (error.type === 'LogConfigError') this.fail(new ConfigError(error.message));
    // Its exit follows (see waitForFix).
    else if (this.options.waitForFixes) return;
    else this.fail(new NodicornError('ERR_APP_LOAD', `App failed to load: ${error.type}: ${error.message}`, ExitCode.APP_LOAD));
  }

  private onAppError(worker: Worker, error: AppError, exchange: Exchange): void {
    this.log.error(`Error handling request ${requestLine(exchange)}\n${error.traceback || `${error.type}: ${error.message}`}`, { pid: worker.pid, [EXCEPTION]: true });
  }

  /** Every worker of the generation is ready: it replaces the serving ones. */
  private commit(generation: Generation): void {
    this.pending = undefined;
    const old = [...this.workers];
    for (const worker of generation.members()) {
      this.workers.add(worker);
      this.dispatcher.add(worker);
    }
    for (const worker of old) {
      // One still booting (a respawn) is retired when it says READY, as one too many (onReady).
      if (worker.state !== 'ready') continue;
      this.dispatcher.remove(worker);
      worker.retire();
      this.restarts.reload++;
    }
    this.log.info(`Reload: ${generation.size} new workers serve; the old ones finish their requests and exit`);
    // TTIN/TTOU while the generation booted.
    for (let n = generation.size; n < this.size; n++) this.spawn();
    for (const extra of generation.members().slice(this.size)) {
      this.dispatcher.remove(extra);
      extra.retire();
    }
  }

  private abandonReload(reason: string): void {
    const generation = this.pending;
    if (!generation) return;
    this.pending = undefined;
    generation.abandon();
    this.log.error(`Reload failed: ${reason}; ${this.serving() > 0 ? 'the old workers keep serving' : 'no worker serves until the next change'}`);
    this.refuseIfNone();
  }

  private onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    this.options.lifecycle?.exited(worker.pid, worker.age);
    if (!this.workers.has(worker)) {
      // A reload's worker that died before its generation took over.
      if (this.pending?.has(worker)) this.abandonReload(`worker ${worker.pid} ${signal ? `was sent ${signal}` : `exited with code ${code}`} while booting`);
      return;
    }
    this.workers.delete(worker);
    this.dispatcher.remove(worker);
    const now = performance.now();
    const timeoutMs = this.options.timeoutMs;
    worker.failAll(
      (startedAt) =>
        timeoutMs > 0 && now - startedAt > timeoutMs
          ? new HttpError(504, 'ERR_WORKER_TIMEOUT', 'the request ran past --timeout')
          : new HttpError(502, 'ERR_WORKER_DIED', 'the worker died while handling the request'),
      // Requests it never started go to the other workers (or wait for the replacement),
      // unless the server is stopping.
      this.stopping ? undefined : (exchange) => this.dispatcher.dispatch(exchange),
    );
    const how = signal ? `was sent ${signal}` : `exited with code ${code}`;
    if (this.stopping) {
      this.log.info(`Worker exiting (pid: ${worker.pid})`);
      return;
    }
    if (!worker.wasReady && !worker.retiredBooting) {
      // It never said READY: respawning would fail the same way, forever.
      if (this.options.waitForFixes) {
        this.waitForFix(worker, how);
        return;
      }
      const exitCode = code === ExitCode.APP_LOAD ? ExitCode.APP_LOAD : ExitCode.WORKER_BOOT;
      this.fail(new NodicornError('ERR_WORKER_BOOT', `Worker failed to boot (pid ${worker.pid} ${how})`, exitCode));
      return;
    }
    if ((code !== 0 || signal) && !worker.retiredBooting) this.log.error(`Worker (pid:${worker.pid}) ${how}`);
    if (this.timedOut.has(worker)) this.restarts.timeout++;
    else if ((code !== 0 || signal) && !worker.retiredBooting) this.restarts.crash++;
    if (this.serving() < this.size) this.spawn();
  }

  /** --reload: a worker of the pool failed to boot; the next change reloads (a full generation). */
  private waitForFix(worker: Worker, how: string): void {
    this.log.error(`Worker failed to boot (pid ${worker.pid} ${how}); the server reloads on the next change`);
    this.settleBoot();
    this.refuseIfNone();
  }

  /** With no worker and none to come until a change, requests are answered 503 rather than held. */
  private refuseIfNone(): void {
    if (this.options.waitForFixes && this.serving() === 0 && !this.pending && !this.stopping) {
      this.dispatcher.refuse(new HttpError(503, 'ERR_NO_WORKERS', 'the app failed to boot; the server reloads on the next change'));
    }
  }

  /** Workers that serve or will: booting, ready, or waiting for their pre_fork hook. */
  private serving(): number {
    let n = this.forking;
    for (const w of this.workers) if (w.state === 'booting' || w.state === 'ready') n++;
    return n;
  }

  private fail(err: NodicornError): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const w of this.workers) w.kill();
    if (this.booted) {
      this.booted.reject(err);
      this.booted = undefined;
    } else this.fatalListener(err);
  }
}
