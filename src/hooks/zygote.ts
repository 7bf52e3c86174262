/**
 * --preload on Unix: workers forked by the zygote (python/nodicorn_worker/zygote.py), a hook host
 * that imported the app once. A forked worker cannot inherit a pipe from Node's spawn, so it
 * connects to a unix socket Node listens on, in a private (0700) temp dir, and names itself with
 * the token Node gave for that fork: "TOKEN pipe" is its protocol pipe (fd 3), and with
 * --capture-output "TOKEN out" / "TOKEN err" are its stdout and stderr. The zygote waits for each
 * child and reports its exit. A ForkedProcess gives the Worker what a ChildProcess would.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodicornError } from '../errors';
import type { Logger } from '../log/logger';
import type { Identity } from '../process/privileges';
import { HookHost, type HostEvent, type HostSpec } from './host';

/** How long a forked child may take to connect back. */
const CONNECT_TIMEOUT_MS = 30_000;
type Role = 'pipe' | 'out' | 'err';

export class ForkedProcess extends EventEmitter {
  /** As a ChildProcess's: [stdin, stdout, stderr, protocol pipe]. */
  readonly stdio: [null, Socket | null, Socket | null, Socket];
  private exited = false;

  constructor(
    readonly pid: number,
    conns: Partial<Record<Role, Socket>>,
  ) {
    super();
    this.stdio = [null, conns.out ?? null, conns.err ?? null, conns.pipe as Socket];
    // Paused while the handshake was read; flowing again once the Worker listens (it does so
    // as it is built, before this runs).
    setImmediate(() => {
      for (const socket of Object.values(conns)) socket?.resume();
    });
  }

  get stdout(): Socket | null {
    return this.stdio[1];
  }

  get stderr(): Socket | null {
    return this.stdio[2];
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.exited) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  reportExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.emit('exit', code, signal);
  }
}

export interface ForkOptions {
  /** --capture-output: the forks' stdout and stderr come to Node over the socket too. */
  capture: boolean;
  owner: Identity | null;
  initgroups: boolean;
}

interface Awaited {
  conns: Partial<Record<Role, Socket>>;
  arrived: () => void;
}

export class Zygote {
  private readonly awaited = new Map<string, Awaited>();
  private readonly children = new Map<number, ForkedProcess>();
  /** Exits reported before their fork finished (a child that died at once). */
  private readonly early = new Map<number, string>();
  /** Forks waiting for their child to connect: what to do if it dies first. */
  private readonly dying = new Map<number, (how: string) => void>();

  private constructor(
    readonly host: HookHost,
    private readonly server: Server,
    private readonly dir: string,
    private readonly capture: boolean,
  ) {
    host.onEvent = (event) => this.onEvent(event);
  }

  /** Listens on the private socket, starts the zygote, and waits until it imported the app. */
  /** `owner`: --user/--group, which the forks switch to (and Node, once bound: it owns the socket). */
  static async start(spec: HostSpec, workerArgs: string[], how: ForkOptions, log: Logger): Promise<Zygote> {
    const { capture, owner } = how;
    const dir = mkdtempSync(join(tmpdir(), 'nodicorn-fork-'));
    const path = join(dir, 'workers.sock');
    const ownerArgs = owner ? ['--uid', String(owner.uid), '--gid', String(owner.gid), ...(how.initgroups && owner.username ? ['--initgroups', owner.username] : [])] : [];
    let zygote: Zygote | undefined;
    const server = createServer((socket) => (zygote ? zygote.accept(socket) : socket.destroy()));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      if (owner) for (const p of [dir, path]) chownSync(p, owner.uid, owner.gid);
      const args = ['--socket', path, ...(capture ? ['--capture-output'] : []), ...ownerArgs, '--', ...workerArgs];
      const host = await HookHost.start({ ...spec, inheritOutput: !capture }, log, 'nodicorn_worker.zygote', args);
      zygote = new Zygote(host, server, dir, capture);
      return zygote;
    } catch (err) {
      server.close();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Forks a worker; resolves once it connected back. */
  async fork(age: number): Promise<ForkedProcess> {
    const token = randomBytes(16).toString('hex');
    const wanted: Role[] = this.capture ? ['pipe', 'out', 'err'] : ['pipe'];
    const conns: Partial<Record<Role, Socket>> = {};
    let arrived = (): void => {};
    const connected = new Promise<void>((resolve) => (arrived = () => wanted.every((r) => conns[r]) && resolve()));
    this.awaited.set(token, { conns, arrived });
    let forked: number | undefined;
    try {
      const { pid } = (await this.host.call('fork', { age, token })) as { pid: number };
      forked = pid;
      const died = new Promise<never>((_, reject) => {
        const fail = (how: string): void => reject(new NodicornError('ERR_WORKER_BOOT', `forked worker ${pid} ${how} before it connected`));
        const how = this.early.get(pid);
        if (how !== undefined) fail(how);
        else this.dying.set(pid, fail);
      });
      const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new NodicornError('ERR_WORKER_BOOT', `forked worker ${pid} did not connect`)), CONNECT_TIMEOUT_MS).unref());
      await Promise.race([connected, died, timer]);
      const child = new ForkedProcess(pid, conns);
      this.children.set(pid, child);
      return child;
    } catch (err) {
      for (const socket of Object.values(conns)) socket?.destroy();
      throw err;
    } finally {
      this.awaited.delete(token);
      if (forked !== undefined) {
        this.dying.delete(forked);
        this.early.delete(forked);
      }
    }
  }

  async close(): Promise<void> {
    await this.host.close();
    this.server.close();
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // Left behind only if another user owns it now; it holds nothing but the socket.
    }
  }

  /** A connection from a forked child: its first line is "TOKEN ROLE". */
  private accept(socket: Socket): void {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl < 0) {
        if (head.length > 100) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      const [token = '', role = ''] = head.subarray(0, nl).toString('latin1').split(' ');
      const entry = this.awaited.get(token);
      if (!entry || !['pipe', 'out', 'err'].includes(role) || entry.conns[role as Role]) {
        socket.destroy();
        return;
      }
      const rest = head.subarray(nl + 1);
      if (rest.length > 0) socket.unshift(rest);
      entry.conns[role as Role] = socket;
      entry.arrived();
    };
    socket.on('data', onData);
  }

  private onEvent(event: HostEvent): void {
    if (event.event !== 'exit' || event.pid === undefined) return;
    const child = this.children.get(event.pid);
    if (!child) {
      const how = event.signal ? `was sent ${event.signal}` : `exited with code ${event.code}`;
      const fail = this.dying.get(event.pid);
      if (fail) fail(how);
      else this.early.set(event.pid, how);
      return;
    }
    this.children.delete(event.pid);
    child.reportExit(event.code ?? null, event.signal ?? null);
  }
}
