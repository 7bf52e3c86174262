/**
 * One Python worker process: spawned (so it runs on Windows too), or with --preload forked by
 * the zygote (hooks/zygote.ts); its protocol pipe on fd 3; with --capture-output its stdout and stderr are read line by line into the error
 * log, else it shares the server's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { finished, type Duplex } from 'node:stream';
import type { Exchange } from '../exchange';
import type { HttpError } from '../errors';
import type { Runner } from '../dispatch/dispatcher';
import type { Logger } from '../log/logger';
import { logCaptured } from '../log/captured';
import { PrefetchDepth } from '../dispatch/prefetch';
import { Channel, type AppError } from './channel';
import { pythonEnv } from './python-env';
import { collectStacks, STACKS_SIGNAL, stacksFile } from './stacks';

/** How long a dead worker's pipe may stay open before its requests are settled anyway. */
const PIPE_DRAIN_MS = 1_000;

/** Runs `then` once `stream` has ended (all its data read) or closed, or after `ms` at most. */
function afterEnd(stream: Duplex, ms: number, then: () => void): void {
  const go = (): void => {
    clearTimeout(timer);
    stopWatching();
    then();
  };
  const timer = setTimeout(go, ms);
  // finished() calls back once (at once, on the next tick, for a stream that already ended).
  const stopWatching = finished(stream, { writable: false }, go);
}

export { PYTHON_PACKAGE_DIR } from './python-env';

export interface WorkerSpec {
  python: string;
  app: string;
  threads: number;
  prefetch: number;
  /** --prefetch-time in ms: see dispatch/prefetch.ts. */
  prefetchTimeMs: number;
  multiprocess: boolean;
  /** gunicorn's proc_name: the process title ("nodicorn: worker [name]") and thread names. */
  name: string;
  /** false: wsgi.file_wrapper files come through the pipe (--no-sendfile). */
  sendfile: boolean;
  /** --capture-output: stdout and stderr into the error log; else the server's own streams. */
  captureOutput: boolean;
  cwd: string;
  pythonpath: string[];
  env: Record<string, string>;
  /** Python logging set-up (--log-level, --log-config*): see log/worker-logging.ts. */
  logArgs: string[];
  /** The worker reports the source files it loads (MODULES frames), for --reload. */
  reportModules: boolean;
  /** Arguments for the worker-side server hooks (--hooks ...), when the config defines some. */
  hookArgs?: string[];
  /** On a timeout, SIGABRT first (a worker_abort hook runs), then SIGKILL after this many ms. */
  abortGraceMs?: number;
  /** Where workers write their stack dumps (see stacks.ts); none: no dumps. */
  stacksDir?: string;
  /** On a quick stop (QUIT), SIGQUIT first (a worker_int hook runs), then SIGKILL after this many ms. */
  quitGraceMs?: number;
}

/** What a Worker needs of its process: a spawned ChildProcess, or a ForkedProcess (--preload). */
export type WorkerProcess = Pick<ChildProcess, 'pid' | 'stdio' | 'stdout' | 'stderr' | 'kill' | 'once'>;

/** The worker's arguments after `-m nodicorn_worker` (a zygote parses them once for all its forks). */
export function workerArgv(spec: WorkerSpec): string[] {
  const args = ['--app', spec.app, '--threads', String(spec.threads), '--multiprocess', spec.multiprocess ? '1' : '0'];
  args.push('--name', spec.name);
  if (!spec.sendfile) args.push('--no-sendfile');
  if (spec.reportModules) args.push('--report-modules');
  for (const dir of spec.pythonpath) args.push('--pythonpath', dir);
  args.push(...spec.logArgs);
  if (spec.hookArgs) args.push(...spec.hookArgs);
  if (spec.stacksDir) args.push('--stacks-dir', spec.stacksDir);
  return args;
}

/** The request line as the client sent it: environ[0] is REQUEST_METHOD, [4] RAW_URI. */
export function requestLine(exchange: Exchange): string {
  return `${exchange.environ[0]?.[1] ?? ''} ${exchange.environ[4]?.[1] ?? ''}`;
}

export interface WorkerHooks {
  ready(worker: Worker): void;
  bootError(worker: Worker, error: AppError): void;
  modules(worker: Worker, files: string[]): void;
  appError(worker: Worker, error: AppError, exchange: Exchange): void;
  released(worker: Worker): void;
  /** The worker reached --max-requests: it must be replaced. */
  exhausted(worker: Worker): void;
  exited(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void;
}

export type WorkerState = 'booting' | 'ready' | 'retiring' | 'dead';

export class Worker implements Runner {
  state: WorkerState = 'booting';
  /** Set once READY arrived: a worker that dies before that failed to boot. */
  wasReady = false;
  /** Retired while still booting (a HUP right after another): its exit is no boot failure. */
  retiredBooting = false;
  /** Requests started on this worker, for --max-requests. */
  served = 0;
  /** When it was spawned (performance.now()), for --workers-lifetime. */
  readonly bornAt = performance.now();
  readonly pid: number;
  private readonly threads: number;
  private readonly prefetch: PrefetchDepth;
  readonly process: WorkerProcess;
  private readonly channel: Channel;
  private readonly abortGraceMs: number;
  private readonly quitGraceMs: number;
  private readonly stacksFile: string | undefined;
  private dumping = false;
  /** Settles once the worker's exit was handled (after the `exited` hook ran). */
  readonly gone: Promise<void>;
  private settleGone: () => void = () => {};

  constructor(
    spec: WorkerSpec,
    readonly age: number,
    readonly maxRequests: number,
    private readonly log: Logger,
    private readonly hooks: WorkerHooks,
    /** A worker the zygote forked (--preload), instead of spawning one. */
    forked?: WorkerProcess,
  ) {
    this.threads = spec.threads;
    this.prefetch = new PrefetchDepth(spec.prefetch, spec.prefetchTimeMs, spec.threads);
    // Windows serialises reads and writes on one synchronous pipe handle, so the worker's
    // replies get a pipe of their own there (fd 4); on Unix the socketpair at fd 3 is duplex.
    const split = process.platform === 'win32' && !forked;
    this.abortGraceMs = spec.abortGraceMs ?? 0;
    this.quitGraceMs = spec.quitGraceMs ?? 0;
    this.gone = new Promise((resolve) => (this.settleGone = resolve));
    const args = ['-m', 'nodicorn_worker', ...workerArgv(spec)];
    if (split) args.push('--out-fd', '4');
    if (spec.hookArgs) args.push('--age', String(age));
    this.process =
      forked ??
      spawn(spec.python, args, {
        cwd: spec.cwd,
        env: pythonEnv(spec.env),
        stdio: [
          'ignore',
          // As gunicorn's workers, without --capture-output they write where the server writes.
          spec.captureOutput ? 'pipe' : 'inherit',
          spec.captureOutput ? 'pipe' : 'inherit',
          ...(split ? (['pipe', 'pipe'] as const) : (['pipe'] as const)),
        ],
        windowsHide: true,
      });
    this.pid = this.process.pid ?? -1;
    this.stacksFile = spec.stacksDir && !split ? stacksFile(spec.stacksDir, this.pid) : undefined;
    const pipe = this.process.stdio[3] as Duplex;
    this.channel = new Channel(pipe, split ? (this.process.stdio[4] as Duplex) : pipe, {
      ready: () => {
        if (this.state !== 'booting') return;
        this.state = 'ready';
        this.wasReady = true;
        hooks.ready(this);
      },
      bootError: (error) => hooks.bootError(this, error),
      modules: (files) => hooks.modules(this, files),
      appError: (error, exchange) => hooks.appError(this, error, exchange),
      released: () => {
        this.prefetch.finished(performance.now());
        if (this.state === 'retiring' && this.channel.inflight === 0) this.channel.close();
        hooks.released(this);
      },
      protocolError: (err) => {
        this.log.error(`worker ${this.pid}: protocol error: ${err.message}; killing it`);
        this.kill();
      },
    });
    this.captureLines(this.process.stdout, 'info');
    // stderr carries wsgi.errors and tracebacks: kept unless the log level hides warnings.
    this.captureLines(this.process.stderr, 'warning');
    this.process.once('error', (err) => {
      // spawn() failed (no such interpreter): no 'exit' follows, so report it as one.
      this.log.error(`cannot start worker with ${spec.python}: ${err.message}`);
      if (this.process.pid === undefined) this.onExit(null, null);
    });
    // The frames a dying worker wrote last (an END, above all) are read before its requests are
    // settled: failAll counts on knowing which requests ended. A grandchild that inherited the
    // pipe could hold it open, hence the bound.
    const replies = split ? (this.process.stdio[4] as Duplex) : pipe;
    this.process.once('exit', (code, signal) => afterEnd(replies, PIPE_DRAIN_MS, () => this.onExit(code, signal)));
  }

  get accepting(): boolean {
    return this.state === 'ready' && (this.maxRequests === 0 || this.served < this.maxRequests);
  }

  get inflight(): number {
    return this.channel.inflight;
  }

  /**
   * Past one request per thread, more may wait inside the worker (only when every worker is
   * busy, as the dispatcher picks the least busy): they then share pipe writes.
   */
  get capacity(): number {
    return this.threads * (1 + this.prefetch.depth);
  }

  oldestStart(): number {
    return this.channel.oldestStart();
  }

  run(exchange: Exchange): void {
    const now = performance.now();
    this.prefetch.started(now, this.channel.inflight === 0);
    exchange.workerPid = this.pid;
    this.channel.start(exchange, now);
    // After start(): the request is in flight, so retiring waits for it instead of closing now.
    if (++this.served === this.maxRequests) this.hooks.exhausted(this);
  }

  /** The request lines ("GET /path") of the requests it runs, oldest first. */
  requestLines(): string[] {
    return this.channel.running().map(requestLine);
  }

  /** Its Python stacks, every thread, as faulthandler prints them ('' when none came). */
  async stacks(): Promise<string> {
    if (!this.stacksFile || this.dumping || this.state === 'dead' || !this.wasReady) return '';
    this.dumping = true;
    try {
      return await collectStacks(this.stacksFile, () => {
        try {
          return this.state !== 'dead' && this.process.kill(STACKS_SIGNAL);
        } catch {
          return false;
        }
      });
    } finally {
      this.dumping = false;
    }
  }

  /** Stops taking requests; the pipe closes (and the worker exits) once in-flight ones end. */
  retire(): void {
    if (this.state === 'dead' || this.state === 'retiring') return;
    this.retiredBooting = this.state === 'booting';
    this.state = 'retiring';
    if (this.channel.inflight === 0) this.channel.close();
  }

  kill(): void {
    if (this.state !== 'dead') this.process.kill('SIGKILL');
  }

  /** A request ran past --timeout: SIGABRT first when a worker_abort hook wants to run (as
   * gunicorn does), SIGKILL once its grace is over; else SIGKILL at once. */
  abort(): void {
    this.signalThenKill('SIGABRT', this.abortGraceMs);
  }

  /** Whether a quick stop should quit() this worker (a worker_int hook wants to run). */
  get quitsFirst(): boolean {
    return this.quitGraceMs > 0 && process.platform !== 'win32';
  }

  /** A quick stop (QUIT), as gunicorn's: SIGQUIT (worker_int runs), SIGKILL once its grace is over. */
  quit(): void {
    this.signalThenKill('SIGQUIT', this.quitGraceMs);
  }

  private signalThenKill(signal: NodeJS.Signals, graceMs: number): void {
    if (graceMs <= 0 || process.platform === 'win32' || this.state === 'dead') return this.kill();
    this.process.kill(signal);
    setTimeout(() => this.kill(), graceMs).unref();
  }

  /**
   * Ends the requests this dead worker held. With `redispatch`, the ones it provably never
   * started go to `redispatch` instead of getting an error, so a crash or a timeout costs only
   * the request that ran into it, prefetched requests or not. Provably: with one thread the
   * worker runs its requests one at a time in the order they came, and by now every frame it
   * wrote has been read (see onExit), so every request but the oldest still held never reached
   * the app. A request with a body is not replayed (its bytes went into the dead pipe), nor
   * one whose client left.
   */
  failAll(errorFor: (startedAt: number) => HttpError, redispatch?: (exchange: Exchange) => void): void {
    const replay = redispatch && this.threads === 1
      ? (exchange: Exchange, position: number): boolean => {
          if (position === 0 || exchange.body !== null || exchange.aborted || exchange.sink.headersSent) return false;
          redispatch(exchange);
          return true;
        }
      : undefined;
    this.channel.failAll(errorFor, replay);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'dead') return;
    this.state = 'dead';
    if (this.stacksFile) rmSync(this.stacksFile, { force: true });
    this.hooks.exited(this, code, signal);
    this.settleGone();
  }

  private captureLines(stream: NodeJS.ReadableStream | null, level: 'info' | 'warning'): void {
    if (!stream) return;
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => logCaptured(this.log, level, line, this.pid));
  }
}
