/**
 * The hook host: one long-lived Python process (python/nodicorn_worker/hookhost.py) that runs the
 * arbiter-side hooks when Node asks, one call at a time, over fd 3 with a JSON object per line.
 * Its stdout and stderr, and what the hooks log through server.log, go to the error log with its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { ConfigError, ExitCode, NodicornError } from '../errors';
import type { Logger, LogLevel } from '../log/logger';
import { LOG_LEVELS } from '../log/logger';
import { pythonEnv } from '../workers/python-env';

export interface HostSpec {
  python: string;
  cwd: string;
  pythonpath: string[];
  env: Record<string, string>;
  /** The config file path, or python:module.name; null when no hook is defined (a zygote). */
  config: string | null;
  /** The host's stdout and stderr are the server's (the workers a zygote forks inherit them). */
  inheritOutput?: boolean;
  /** Every setting by gunicorn's name: the hooks' `cfg`. */
  cfg: Record<string, unknown>;
  /** What the hooks see as server.pid and worker.ppid; this process's by default. */
  serverPid?: number;
}

/** The hooks' view of the server, for the hook host and the workers (python/nodicorn_worker/hooks.py reads it). */
export function hookEnv(spec: HostSpec): Record<string, string> {
  return { NODICORN_HOOK_CFG: JSON.stringify(spec.cfg), NODICORN_SERVER_PID: String(spec.serverPid ?? process.pid) };
}

/** A hook raised (or the host is gone): the one-line error and the traceback. */
export class HookFailure extends Error {
  constructor(
    readonly hook: string,
    message: string,
    readonly traceback: string,
  ) {
    super(message);
    this.name = 'HookFailure';
  }
}

interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  traceback?: string;
  event?: 'ready' | 'error' | 'log' | 'exit';
  kind?: 'config' | 'app';
  pid?: number;
  hooks?: string[];
  level?: string;
  message?: string;
}

/** The zygote's report of a forked worker's exit. */
export interface HostEvent {
  event: string;
  pid?: number;
  code?: number | null;
  signal?: NodeJS.Signals | null;
}

type Pending = { hook: string; resolve: (value: unknown) => void; reject: (err: Error) => void };

export class HookHost {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exited = false;
  private readonly exit: Promise<void>;
  /** Events other than log lines (the zygote's exit reports) are passed here. */
  onEvent: (event: HostEvent) => void = () => {};

  private constructor(
    private readonly child: ChildProcess,
    private readonly pipe: Duplex,
    private readonly log: Logger,
    readonly defined: ReadonlySet<string>,
  ) {
    this.exit = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      this.exited = true;
      const why = signal ? `was sent ${signal}` : `exited with code ${code}`;
      for (const p of this.pending.values()) p.reject(new HookFailure(p.hook, `the hook host (pid ${child.pid}) ${why}`, ''));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /**
   * Starts the host (`module` with `args`: the zygote's are its own) and waits for its first
   * line: the hooks it found, or why it cannot run.
   */
  static start(spec: HostSpec, log: Logger, module = 'nodicorn_worker.hookhost', extraArgs: string[] = []): Promise<HookHost> {
    const args = ['-m', module];
    if (spec.config !== null) args.push('--config', spec.config);
    const split = process.platform === 'win32';
    if (split) args.push('--out-fd', '4');
    if (module === 'nodicorn_worker.hookhost') for (const dir of spec.pythonpath) args.push('--pythonpath', dir);
    args.push(...extraArgs);
    const output = spec.inheritOutput ? 'inherit' : 'pipe';
    const child = spawn(spec.python, args, {
      cwd: spec.cwd,
      env: { ...pythonEnv(spec.env), ...hookEnv(spec) },
      stdio: ['ignore', output, output, 'pipe', ...(split ? (['pipe'] as const) : [])],
      windowsHide: true,
    });
    const pid = (): number => child.pid ?? -1;
    for (const [stream, level] of [[child.stdout, 'info'], [child.stderr, 'warning']] as const) {
      if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => log[level](line, { pid: pid() }));
    }
    const input = child.stdio[3] as Duplex;
    const replies = split ? (child.stdio[4] as Duplex) : input;
    return new Promise((resolve, reject) => {
      let host: HookHost | undefined;
      child.once('error', (err) => reject(new NodicornError('ERR_HOOK_HOST', `cannot start the hook host with ${spec.python}: ${err.message}`)));
      child.once('exit', (code, signal) => {
        if (!host) reject(new NodicornError('ERR_HOOK_HOST', `the hook host exited before it was ready (${signal ?? `code ${code}`})`));
      });
      createInterface({ input: replies, crlfDelay: Infinity }).on('line', (line) => {
        let msg: Reply;
        try {
          msg = JSON.parse(line) as Reply;
        } catch {
          log.error(`hook host: not a protocol line: ${line.slice(0, 200)}`, { pid: pid() });
          return;
        }
        if (host) host.receive(msg);
        else if (msg.event === 'ready') resolve((host = new HookHost(child, input, log, new Set(msg.hooks ?? []))));
        else if (msg.event === 'error') {
          if (msg.traceback) log.error(msg.traceback, { pid: pid() });
          if (msg.kind === 'app') reject(new NodicornError('ERR_APP_LOAD', `App failed to load: ${msg.message ?? ''}`, ExitCode.APP_LOAD));
          else reject(new ConfigError(`--config: ${msg.message ?? 'the config file cannot be used'}`));
        } else if (msg.event === 'log') logLine(log, msg, pid());
      });
    });
  }

  /** Runs a call in the host; rejects with HookFailure when the hook raised. */
  call(name: string, args: Record<string, unknown> = {}): Promise<unknown> {
    if (this.exited) return Promise.reject(new HookFailure(name, 'the hook host is not running', ''));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { hook: name, resolve, reject });
      this.pipe.write(JSON.stringify({ id, call: name, ...args }) + '\n');
    });
  }

  /** Closes the pipe (the host exits on EOF) and waits for it, killing it after `graceMs`. */
  async close(graceMs = 5_000): Promise<void> {
    if (this.exited) return;
    this.pipe.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(timer);
  }

  private receive(msg: Reply): void {
    if (msg.event === 'log') return logLine(this.log, msg, this.pid);
    if (msg.id === undefined) return this.onEvent(msg as HostEvent);
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result ?? null);
    else p.reject(new HookFailure(p.hook, msg.error ?? 'failed', msg.traceback ?? ''));
  }
}

function logLine(log: Logger, msg: Reply, pid: number): void {
  const level = (LOG_LEVELS as readonly string[]).includes(msg.level ?? '') ? (msg.level as LogLevel) : 'info';
  log[level](msg.message ?? '', { pid });
}
