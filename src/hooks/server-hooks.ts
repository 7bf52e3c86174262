/**
 * When each of gunicorn's server hooks runs, and what a raising hook does, as in gunicorn:
 *
 *   start    nworkers_changed(n, None), on_starting, [listeners bound], ssl_context, when_ready:
 *            raising stops the start (exit 1), as an exception escaping gunicorn's start does.
 *   running  pre_fork before each worker, child_exit after one exits, nworkers_changed on
 *            TTIN/TTOU, nworkers_changed and on_reload on HUP: raising is gunicorn's "Unhandled
 *            exception in main loop": logged with its traceback, and the server stops (exit 1).
 *   USR2     pre_exec before the new master starts: raising cancels the re-exec (in gunicorn the
 *            forked child that would exec dies), logged.
 *   stop     on_exit, after the workers are gone: logged only.
 *
 * The worker-side hooks run inside each worker (python/nodicorn_worker/worker_hooks.py): post_fork
 * or post_worker_init raising fails the worker's boot (exit 3, as gunicorn's WORKER_BOOT_ERROR);
 * pre_request raising fails that request (500); post_request, worker_exit, worker_int and
 * worker_abort raising are logged.
 */
import { ConfigError, ExitCode, NodicornError } from '../errors';
import type { Logger } from '../log/logger';
import type { TlsSetup } from '../http/tls';
import { HookFailure, HookHost, hookEnv, type HostSpec } from './host';
import { ARBITER_SIDE_HOOKS, WORKER_SIDE_HOOKS } from './names';

type HookName = string;
import { applySslContext, type SslContextReport } from './ssl';
import type { WorkerLifecycle } from '../workers/arbiter';

/** How long a worker_abort hook has, after SIGABRT, before the worker is killed. */
export const ABORT_GRACE_MS = 2_000;

/** The worker's extra arguments and environment, when the config defines a worker-side hook. */
export function workerHookArgs(spec: HostSpec, defined: readonly string[]): { args: string[]; env: Record<string, string> } | null {
  if (spec.config === null || !WORKER_SIDE_HOOKS.some((h) => defined.includes(h))) return null;
  return { args: ['--hooks', spec.config, '--master-pid', String(process.pid)], env: hookEnv(spec) };
}

/**
 * The whole server, as the hooks of one front end of several see it: gunicorn users read
 * server.pid (to signal the server), server.num_workers and cfg.workers as one server's, not as
 * the front end's share of it.
 */
export interface WholeServer {
  /** The master's: the pid that takes the server's signals. */
  readonly pid: number;
  /** -w as configured: cfg.workers. */
  readonly workers: number;
  /** Every front end's workers now, after TTIN/TTOU: server.num_workers. */
  numWorkers: number;
}

export class ServerHooks {
  private fatal: (err: NodicornError) => void = () => {};
  private numWorkers: number;

  private constructor(
    private readonly host: HookHost | null,
    readonly defined: ReadonlySet<string>,
    private readonly spec: HostSpec,
    private readonly log: Logger,
    private readonly whole: WholeServer | null,
  ) {
    this.numWorkers = Number(spec.cfg.workers ?? 1);
  }

  /** server.num_workers: this pool's size, or in a front end of several the whole server's. */
  private get serverWorkers(): number {
    return this.whole?.numWorkers ?? this.numWorkers;
  }

  /**
   * `defined`: the hooks the config file defines (the config loader found them). The host starts
   * only when an arbiter-side one is among them. Null when the config defines no hook at all.
   */
  static async start(spec: HostSpec, defined: readonly string[], log: Logger, zygote?: HookHost, whole: WholeServer | null = null): Promise<ServerHooks | null> {
    if (defined.length === 0) return null;
    // With --preload the zygote is the host.
    const host = zygote ?? (ARBITER_SIDE_HOOKS.some((h) => defined.includes(h)) ? await HookHost.start(spec, log) : null);
    return new ServerHooks(host, new Set(defined), spec, log, whole);
  }

  has(name: HookName): boolean {
    return this.defined.has(name);
  }

  get hostPid(): number | null {
    return this.host?.pid ?? null;
  }

  /** Where a runtime hook failure goes: the server stops. */
  onFatal(listener: (err: NodicornError) => void): void {
    this.fatal = listener;
  }

  /** The worker's extra arguments and environment, when a worker-side hook is defined. */

  /** nworkers_changed(n, None) then on_starting: before the listeners are bound. */
  async starting(numWorkers: number): Promise<void> {
    this.numWorkers = numWorkers;
    await this.atStart('nworkers_changed', { new: numWorkers, old: null });
    await this.atStart('on_starting');
  }

  async ready(): Promise<void> {
    await this.atStart('when_ready');
  }

  /** The ssl_context hook's context, as the listeners' TLS options (base: the SSL settings'). */
  async sslContext(base: TlsSetup, paths: Record<string, unknown>): Promise<TlsSetup> {
    if (!this.has('ssl_context')) return base;
    let report: SslContextReport;
    try {
      report = (await this.atStart('ssl_context', paths)) as SslContextReport;
    } catch (err) {
      // What cannot be translated to Node's TLS options is a config error, in one line.
      const refused = /TranslateError: (.*)/.exec((err as Error).message);
      throw refused ? new ConfigError(refused[1] ?? '') : err;
    }
    return applySslContext(base, report, this.spec.cwd);
  }

  /** pre_fork; false when it raised (the server is stopping then). */
  async preFork(age: number): Promise<boolean> {
    return this.running('pre_fork', { age });
  }

  spawned(pid: number, age: number): void {
    if (this.host && this.has('child_exit')) void this.host.call('worker_started', { pid, age, num_workers: this.serverWorkers }).catch(() => {});
  }

  childExit(pid: number, age: number): void {
    void this.running('child_exit', { pid, age });
  }

  resized(numWorkers: number, old: number): void {
    this.numWorkers = numWorkers;
    void this.running('nworkers_changed', { new: numWorkers, old });
  }

  /** HUP: gunicorn sets num_workers again (nworkers_changed(n, n)), then calls on_reload. */
  async reloading(): Promise<boolean> {
    if (!(await this.running('nworkers_changed', { new: this.numWorkers, old: this.numWorkers }))) return false;
    return this.running('on_reload');
  }

  /** The worker pool's side of the hooks, for the Arbiter; null without a host. */
  lifecycle(): WorkerLifecycle | undefined {
    if (!this.host) return undefined;
    return {
      beforeSpawn: (age) => this.preFork(age),
      spawned: (pid, age) => this.spawned(pid, age),
      exited: (pid, age) => this.childExit(pid, age),
      resized: (size, old) => this.resized(size, old),
    };
  }

  /** The start failed: the host goes without on_exit (gunicorn does not call it then either). */
  async abandon(): Promise<void> {
    await this.host?.close();
  }

  /**
   * USR2: pre_exec, before the new master starts. gunicorn calls it in the forked child, which
   * dies if it raises: the new master never starts and the old one keeps serving. So here.
   */
  async preExec(): Promise<boolean> {
    if (!this.host || !this.has('pre_exec')) return true;
    try {
      await this.host.call('pre_exec', { num_workers: this.serverWorkers });
      return true;
    } catch (err) {
      this.logFailure(err, 'Exception in pre_exec hook; the new master is not started');
      return false;
    }
  }

  /** on_exit (logged if it raises), then the host goes. */
  async exiting(): Promise<void> {
    if (!this.host) return;
    if (this.has('on_exit')) {
      await this.host.call('on_exit', { num_workers: this.serverWorkers }).catch((err: unknown) => this.logFailure(err, 'Exception in on_exit hook'));
    }
    await this.host.close();
  }

  private async atStart(name: HookName, args: Record<string, unknown> = {}): Promise<unknown> {
    if (!this.host || !this.has(name)) return null;
    try {
      return await this.host.call(name, { ...args, num_workers: this.serverWorkers });
    } catch (err) {
      this.logFailure(err, `Exception in ${name} hook`);
      const reason = err instanceof HookFailure ? err.message : String(err);
      throw new NodicornError('ERR_HOOK', `the ${name} hook failed: ${reason}`, ExitCode.UNEXPECTED);
    }
  }

  private async running(name: HookName, args: Record<string, unknown> = {}): Promise<boolean> {
    if (!this.host || !this.has(name)) return true;
    try {
      await this.host.call(name, { ...args, num_workers: this.serverWorkers });
      return true;
    } catch (err) {
      this.logFailure(err, `Unhandled exception in main loop (${name} hook)`);
      this.fatal(new NodicornError('ERR_HOOK', `the ${name} hook failed: ${err instanceof Error ? err.message : String(err)}`, ExitCode.UNEXPECTED));
      return false;
    }
  }

  private logFailure(err: unknown, header: string): void {
    const detail = err instanceof HookFailure ? err.traceback || err.message : String(err);
    this.log.error(`${header}:\n${detail}`, { pid: this.host?.pid ?? process.pid });
  }
}
