/**
 * The master's front ends: started with the listening sockets and their share of the workers,
 * replaced when one dies (its workers go with it: their pipes close), told what the signals
 * mean, and waited for when the server stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Config } from '../config/settings';
import { ExitCode, NodicornError } from '../errors';
import { closeUnackedHandle, type ListenHandle } from '../http/node-internals';
import type { Logger } from '../log/logger';
import { shares } from './count';
import { MasterBalance } from './handoff';
import { relayLines } from './log-relay';
import { ACCESS_LOG_FD, ERROR_LOG_FD, type FrontendAction, type ToFrontend, type ToMaster } from './messages';
import type { FrontendAnswer, FrontendReport } from './stats';

/** The hooks gunicorn's arbiter calls once for the server: the master's. The others run in each front end. */
export const MASTER_HOOKS: ReadonlySet<string> = new Set(['on_starting', 'on_reload', 'when_ready', 'pre_exec', 'nworkers_changed', 'on_exit']);

/** A front end that dies this soon after it started is started again only after this long. */
const RESTART_PAUSE_MS = 1_000;
/** Past --graceful-timeout, how long a stopping front end has to exit before it is killed. */
const EXIT_MARGIN_MS = 5_000;

export interface FrontendsOptions {
  listeners: ReadonlyArray<{ handle: ListenHandle; path: string | null }>;
  log: Logger;
  /** Where the front ends' rendered lines go: the master's error and access logs. */
  errorLines(text: string): void;
  accessLines(text: string): void;
  /** A front end stopped on its own (workers that cannot boot): the server must stop. */
  onFatal(err: NodicornError): void;
  /** The master serves --metrics-bind: the front ends count their requests for it. */
  countRequests: boolean;
}

interface Member {
  readonly index: number;
  readonly child: ChildProcess;
  readonly startedAt: number;
  pids: number[];
  ready: boolean;
  /** It said it cannot serve (its workers cannot boot). */
  fatal: boolean;
  readonly exited: Promise<void>;
  /** Its answers to the master's `stats` questions, awaited by id. */
  readonly waiting: Map<number, (report: FrontendReport | null) => void>;
}

export class Frontends {
  private readonly members: Array<Member | null>;
  private sizes: number[];
  private stopping = false;
  private questions = 0;
  /** The front ends (by index) that listen; once all do, `listening()` resolves. */
  private readonly listened = new Set<number>();
  private allListen: () => void = () => {};
  private readonly allListening = new Promise<void>((resolve) => (this.allListen = resolve));
  /** Whether the workers may start (go): a front end started later starts them at once. */
  private going = false;
  private readonly entry = join(__dirname, 'entry.js');
  /** Where a connection one front end hands off goes (handoff.ts). */
  private readonly balance: MasterBalance;

  constructor(
    private config: Config,
    readonly count: number,
    private readonly options: FrontendsOptions,
  ) {
    this.sizes = shares(config.workers, count);
    this.members = Array.from({ length: count }, () => null);
    this.balance = new MasterBalance(count, (i) => {
      const m = this.members[i];
      if (!m) return null;
      const live = m.ready && m.child.connected && !this.stopping;
      // A socket for a front end whose channel just closed is not kept open in the master.
      return { live, send: (message, socket, sent) => (m.child.connected ? this.send(m, message, socket, sent) : socket?.destroy()) };
    });
  }

  /** Every worker of every front end, as last reported. */
  get workerPids(): number[] {
    return this.members.flatMap((m) => m?.pids ?? []);
  }

  /** The workers the front ends are told to run. */
  get workers(): number {
    return this.sizes.reduce((a, b) => a + b, 0);
  }

  /** Starts every front end; resolves once all have their workers up. */
  start(): Promise<void> {
    return Promise.all(this.sizes.map((_, i) => this.launch(i))).then(() => undefined);
  }

  /**
   * Resolves once every front end listens. The master binds without listening, so until then a
   * connection is refused: it says "Listening at" and runs when_ready only after this.
   */
  listening(): Promise<void> {
    return this.allListening;
  }

  /** After when_ready: the front ends start their workers, as gunicorn's arbiter spawns them then. */
  go(): void {
    this.going = true;
    for (const m of this.members) if (m) this.send(m, { t: 'go' });
  }

  /** HUP: the configuration read again goes to every front end, with its share of the workers. */
  reload(config: Config): void {
    // As one server's HUP: a -w that was not changed keeps the size TTIN/TTOU set.
    if (config.workers !== this.config.workers) this.sizes = shares(config.workers, this.count);
    this.config = config;
    this.tellSize();
    this.members.forEach((m, i) => m && this.send(m, { t: 'reload', config: this.configFor(i) }));
  }

  /**
   * TTIN (+1) and TTOU (-1): the front end with the fewest workers gets one more, the one with
   * the most gives one up; each keeps one at least. Returns whether the pool changed.
   */
  resize(delta: 1 | -1): boolean {
    const pick = delta > 0 ? Math.min(...this.sizes) : Math.max(...this.sizes);
    if (delta < 0 && pick <= 1) {
      this.options.log.info(`Handling signal: ttou: ignored, each of the ${this.count} front ends keeps one worker`);
      return false;
    }
    const i = this.sizes.indexOf(pick);
    this.sizes[i] = pick + delta;
    this.tellSize();
    const member = this.members[i];
    if (member) this.send(member, { t: 'do', action: delta > 0 ? 'grow' : 'shrink' });
    return true;
  }

  /** A command every front end carries out (USR1, URG, WINCH). */
  broadcast(action: FrontendAction): void {
    for (const m of this.members) if (m) this.send(m, { t: 'do', action });
  }

  /** TERM/INT ('stop', graceful) or QUIT ('quit'): resolves once every front end is gone. */
  async stop(action: 'stop' | 'quit', graceMs: number): Promise<void> {
    this.stopping = true;
    const live = this.members.filter((m): m is Member => m !== null);
    for (const m of live) this.send(m, { t: 'do', action });
    const kill = setTimeout(() => {
      for (const m of live) m.child.kill('SIGKILL');
    }, graceMs + EXIT_MARGIN_MS);
    await Promise.all(live.map((m) => m.exited));
    clearTimeout(kill);
  }

  /** Asks every live front end for its figures (stats.ts); one silent past `timeoutMs` answers null. */
  ask(full: boolean, timeoutMs: number): Promise<FrontendAnswer[]> {
    const live = this.members.filter((m): m is Member => m !== null && m.child.connected);
    return Promise.all(
      live.map(
        (m) =>
          new Promise<FrontendAnswer>((resolve) => {
            const id = ++this.questions;
            const timer = setTimeout(() => answer(null), timeoutMs);
            const answer = (report: FrontendReport | null): void => {
              clearTimeout(timer);
              m.waiting.delete(id);
              resolve({ index: m.index, report });
            };
            m.waiting.set(id, answer);
            this.send(m, { t: 'stats', id, full });
          }),
      ),
    );
  }

  /** A second QUIT while stopping: every front end stops its workers at once. */
  hurry(): void {
    this.broadcast('hurry');
  }

  /** Every front end's hooks see the whole server's worker count (before the resize reaches its workers). */
  private tellSize(): void {
    for (const m of this.members) if (m) this.send(m, { t: 'size', numWorkers: this.workers });
  }

  /** This front end's configuration: its share of the workers; what the master does stays the master's. */
  private configFor(i: number): Config {
    return {
      ...this.config,
      workers: this.sizes[i] as number,
      frontends: this.count,
      hooks: this.config.hooks.filter((h) => !MASTER_HOOKS.has(h)),
      pidfile: null,
      daemon: false,
      metricsBind: null,
    };
  }

  /** Starts front end `i` (again); resolves when its workers are up, rejects if it cannot start. */
  private launch(i: number, replacing = false): Promise<void> {
    const { log } = this.options;
    const child = spawn(process.execPath, [...process.execArgv, this.entry], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe', 'pipe'],
      serialization: 'json',
    });
    const pipes = child.stdio as unknown as Readable[];
    relayLines(pipes[ERROR_LOG_FD] as Readable, (text) => this.options.errorLines(text));
    relayLines(pipes[ACCESS_LOG_FD] as Readable, (text) => this.options.accessLines(text));
    let exited!: () => void;
    const member: Member = { index: i + 1, child, startedAt: Date.now(), pids: [], ready: false, fatal: false, exited: new Promise((r) => (exited = r)), waiting: new Map() };
    this.members[i] = member;
    return new Promise((resolve, reject) => {
      child.on('message', (message: ToMaster, handle: unknown) => {
        if (message.t === 'adopt') this.balance.route(i, message.listener, handle as Socket | undefined);
        else if (message.t === 'load') this.balance.report(i, message.open);
        else if (message.t === 'stats') member.waiting.get(message.id)?.(message.report);
        else if (message.t === 'listening') {
          this.listened.add(i);
          if (this.listened.size === this.count) this.allListen();
          if (this.going) this.send(member, { t: 'go' });
        } else if (message.t === 'ready') {
          member.pids = message.pids;
          member.ready = true;
          this.balance.ready();
          resolve();
        } else if (message.t === 'fatal') {
          const err = new NodicornError('ERR_FRONTEND', message.message, message.code as ExitCode);
          member.fatal = true;
          if (this.stopping) return;
          reject(err);
          if (member.ready) this.options.onFatal(err);
        }
      });
      child.once('error', (err) => reject(new NodicornError('ERR_FRONTEND', `cannot start front end ${i + 1}: ${err.message}`, ExitCode.UNEXPECTED)));
      child.once('exit', (code, signal) => {
        exited();
        for (const answer of [...member.waiting.values()]) answer(null);
        if (this.members[i] === member) this.members[i] = null;
        // A connection sent to it just before it died would stay open here, unanswered.
        closeUnackedHandle(child);
        this.balance.gone(i);
        // One that stopped on its own said why (fatal): the server stops, nothing is replaced.
        if (this.stopping || member.fatal) return;
        const how = signal ? `by ${signal}` : `with code ${code}`;
        log.error(`Front end ${i + 1} (pid: ${child.pid}) exited ${how}; starting another`);
        const pause = Date.now() - member.startedAt < RESTART_PAUSE_MS ? RESTART_PAUSE_MS : 0;
        setTimeout(() => {
          if (this.stopping) return;
          this.launch(i, true).then(resolve, (err: NodicornError) => {
            reject(err);
            this.options.onFatal(err);
          });
        }, pause);
      });
      for (const { handle, path } of this.options.listeners) this.send(member, { t: 'listener', path }, handle);
      const server = { pid: process.pid, workers: this.config.workers, numWorkers: this.workers };
      this.send(member, { t: 'init', config: this.configFor(i), index: i + 1, count: this.count, server, countRequests: this.options.countRequests, replacing });
    });
  }

  private send(member: Member, message: ToFrontend, handle?: ListenHandle | Socket, sent?: () => void): void {
    if (!member.child.connected) return;
    // A front end that is going may have closed its channel already; its exit is handled above.
    member.child.send(message, handle as never, (err) => {
      if (err) this.options.log.debug(`front end ${member.index}: ${err.message}`);
      else sent?.();
    });
  }
}
