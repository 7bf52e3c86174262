/**
 * The composition root: builds the logger, the worker pool, the dispatcher and the listeners
 * from a Config, and returns a handle to stop them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import type { Config } from './config/settings';
import { NodicornError, ExitCode } from './errors';
import type { Logger } from './log/logger';
import { Dispatcher } from './dispatch/dispatcher';
import { Arbiter } from './workers/arbiter';
import { startReloader } from './workers/reload-setup';
import { Frontend } from './http/frontend';
import { budgetLimits, SpoolBudget } from './http/response/budget';
import type { FrontServer } from './http/engine';
import { tlsSetup } from './http/tls';
import { formatAddress, metricsAddress, type BindAddress } from './config/address';
import { isTcpHandle, type ListenHandle } from './http/node-internals';
import type { MasterActions } from './process/signals';
import { begin, expandLocalhost, removeStaleSocket, reopenLogs, version } from './process/startup';
import { AddressList } from './http/proxy/address-list';
import { ProxyTrust } from './http/proxy/forwarded';
import { createProxyIntake } from './http/proxy/proxy-intake';
import { installSignals } from './process/signals';
import { hupHandler } from './process/hup';
import { arbiterOptions } from './process/pool-options';
import { Reexec, takeInherited, type Listener } from './process/reexec';
import { MasterProcess, setProcessTitle } from './process/master';
import { writableDir } from './process/writable-dir';
import { startPythonSide } from './hooks/setup';
import type { WholeServer } from './hooks/server-hooks';
import { parseStaticMapping, type StaticMapping } from './http/static/mounts';
import { StaticFiles } from './http/static/serve';
import { StopDelay } from './ops/stop-delay';
import { RequestIds } from './http/request/request-id';
import { RequestStats } from './ops/request-stats';
import { localView, MetricsServer, type ServerView } from './ops/metrics-server';

/** How long --proxy-protocol waits for a connection's PROXY header (a proxy sends it at once). */
const PROXY_HEADER_TIMEOUT_MS = 5_000;
/** On a graceful stop, how long the last connections accepted have to deliver their request. */
const ACCEPTED_GRACE_MS = 100;

/**
 * What makes a server process one of several front ends (frontends/entry.ts builds it): its
 * listeners come from the master, its logs go to the master, and the master's commands take the
 * place of the signals. Its config already holds its own share of the workers.
 */
export interface FrontendRole {
  /** 1-based, of `count`. */
  readonly index: number;
  readonly count: number;
  /**
   * Started in place of a front end that died. The first front ends listen at once (the master
   * binds without listening: until one does, connections are refused); one that replaces
   * another accepts only once its workers are up, or it would take connections from the front
   * ends that serve meanwhile and hold them while its workers import the app.
   */
  readonly replacing: boolean;
  /** The master's bound sockets, in bind order, with the unix path where there is one. */
  readonly listeners: ReadonlyArray<{ handle: ListenHandle; path: string | null }>;
  /** Spreads the connections between the front ends (frontends/handoff.ts gates each listener). */
  readonly balance: { gate(listener: NetServer, index: number, log: Logger): void };
  /** The pipes to the master's log writer. */
  readonly relay: { error: number; access: number };
  /** Calls `actions` on the master's commands; returns a function that stops. */
  control(actions: MasterActions): () => void;
  /** Its listeners listen; resolves when the master says the workers may start (after when_ready). */
  listening(): Promise<void>;
  /** The workers are up. */
  ready(workerPids: number[]): void;
  /** The server the hooks see (server.pid, server.num_workers, cfg.workers), kept current by the master. */
  readonly server: WholeServer;
  /** The master serves --metrics-bind for every front end: this one counts its requests for it. */
  readonly countRequests: boolean;
  /** What the master's questions are answered from (frontends/stats.ts), once the pool exists. */
  observe(view: ServerView, stats: RequestStats | null): void;
}

export interface ServeOptions {
  /** Answer the master's signals as gunicorn does (see process/signals.ts): the CLI does; an embedding app may not. */
  handleSignals?: boolean;
  /** HUP reads the configuration again with this (the CLI's command line, environment, config file). */
  rereadConfig?: () => Promise<Config>;
  /** Called when the server stops on its own (a worker that cannot boot), with the exit code. */
  onFatal?: (err: NodicornError) => void;
  /** Set in a front-end process of a master with several (--frontends). */
  frontend?: FrontendRole;
}

export interface ServerHandle {
  /** Where the server listens, after port 0 was resolved: "http://127.0.0.1:8051". */
  readonly urls: string[];
  readonly workerPids: number[];
  /** What slow clients' responses hold across all connections, and how many were closed for it. */
  readonly spoolBudget: SpoolBudget;
  /** Graceful stop: stop accepting, let in-flight requests finish within --graceful-timeout. */
  close(): Promise<void>;
}

export async function serve(config: Config, options: ServeOptions = {}): Promise<ServerHandle> {
  // A master started by USR2 listens on the sockets it inherited, not on --bind.
  const role = options.frontend ?? null;
  const inherited = options.handleSignals && !role ? takeInherited() : null;
  const { cwd, python, logs, addresses } = await begin(config, inherited, role?.relay);
  const { log } = logs;
  // --metrics-bind: checked before anything starts; the requests are counted only when it is set
  // (here, or in the master of several front ends).
  const metricsAt = config.metricsBind === null ? null : metricsAddress(config.metricsBind, config.bind);
  const stats = metricsAt || role?.countRequests ? new RequestStats() : null;
  const reexec = new Reexec(log, inherited?.parentPid ?? 0);
  const master = MasterProcess.prepare(config, log, inherited !== null, role ? frontendTitle(role) : '');
  /** A per-server limit, split between the front ends (rounded up: never below it in sum). */
  const share = (limit: number): number => (role ? Math.ceil(limit / role.count) : limit);
  // Certificates are read before anything starts: a bad path is a config error, not a late failure.
  let tls = tlsSetup(config, process.cwd());
  const side = await startPythonSide(config, python.path, cwd, log, role?.server);
  const { hooks } = side;
  try {
    await hooks?.starting(config.workers);
    if (tls && hooks) tls = await hooks.sslContext(tls, tlsPaths(config));
  } catch (err) {
    await side.abandon();
    throw err;
  }
  const dispatcher = new Dispatcher(share(config.backlog));
  const hookParts = side.parts;
  const arbiter = new Arbiter(arbiterOptions(config, python.path, cwd, hookParts), dispatcher, log);
  const spoolPath = spoolDir(config.spoolDir);
  const budget = budgetLimits(config.spoolMemoryLimit, config.spoolDiskLimit, spoolPath);
  const spoolBudget = new SpoolBudget(share(budget.memory), share(budget.disk), log);
  log.debug(`slow clients' responses may hold ${budget.memory} bytes of memory and ${budget.disk} of disk in all`);
  const limits = { requestLine: config.limitRequestLine, fields: config.limitRequestFields, fieldSize: config.limitRequestFieldSize, body: config.limitRequestBody };
  const trust = new ProxyTrust({ forwardedAllowIps: config.forwardedAllowIps, secureSchemeHeaders: config.secureSchemeHeaders, forwarderHeaders: config.forwarderHeaders });
  const frontend = new Frontend(
    {
      keepAliveMs: config.keepAlive * 1000,
      engine: config.httpEngine,
      scriptName: config.rootPath.replace(/\/+$/, '') || (process.env.SCRIPT_NAME ?? ''),
      limits,
      tls,
      trust,
      headerTimeoutMs: config.headerTimeout * 1000,
      bodyTimeoutMs: config.bodyTimeout * 1000,
      bodyMinRate: config.bodyMinRate,
      sendTimeoutMs: config.sendTimeout * 1000,
      streamPaths: config.streamRequestPaths,
      spool: { memory: config.bodyBufferSize, dir: spoolPath, maxFile: config.maxTempFileSize, budget: spoolBudget },
      maxConnections: share(config.workerConnections),
      h2: {
        maxConcurrentStreams: config.http2MaxConcurrentStreams,
        initialWindowSize: config.http2InitialWindowSize,
        maxFrameSize: config.http2MaxFrameSize,
        maxHeaderListSize: config.http2MaxHeaderListSize,
      },
      requestIds: config.requestIdHeader === null ? null : new RequestIds(config.requestIdHeader),
      stats,
      statics: config.staticMap.length === 0 ? null : new StaticFiles({ mappings: config.staticMap.map((raw) => parseStaticMapping(raw) as StaticMapping), maxAge: config.staticMaxAge, cwd: process.cwd() }, log),
    },
    (ex) => dispatcher.dispatch(ex),
    log,
    logs.requests,
  );
  const proxyAllow = new AddressList(config.proxyAllowIps);
  const reloader = config.reload ? startReloader(arbiter, { engine: config.reloadEngine, extraFiles: config.reloadExtraFiles, cwd: process.cwd(), preload: config.preloadApp }, log) : null;

  if (role) log.info(`Front end ${role.index} of ${role.count} (pid: ${process.pid}): ${config.workers} of the workers`);
  else {
    log.info(`Starting nodicorn ${version()}`);
    log.info(`Workers run ${python.path} (${python.reason})`);
  }
  const servers: FrontServer[] = [];
  /** The PROXY protocol intakes that listen in front of the HTTP servers (--proxy-protocol). */
  const intakes: NetServer[] = [];
  /** What accepts connections (the intake where there is one, else the server), in bind order. */
  const listeners: Listener[] = [];
  /** Unix socket paths this master bound; a master started by USR2 inherited them instead. */
  const unixPaths: string[] = [];
  const inheritedPaths: string[] = [];
  const urls: string[] = [];
  let closing: Promise<void> | undefined;
  /** --metrics-bind's listener, and whether the workers are up (for /readyz). */
  let metrics: MetricsServer | null = null;
  let serving = false;

  const stopDelay = new StopDelay();
  /** Graceful within `graceMs` (TERM, INT, the API), after `delayMs` of --shutdown-delay; quick with 0 (QUIT). */
  const shutdown = (graceMs: number, how: string, delayMs = 0): Promise<void> =>
    (closing ??= (async () => {
      log.info(`Handling signal: ${how}`);
      // From now on responses close their connections, so keep-alive clients stop sending.
      frontend.drain();
      if (delayMs > 0) {
        // Idle keep-alive clients are told now to go elsewhere; a moment first lets the requests
        // of connections accepted just before the signal in (see below).
        setTimeout(() => {
          for (const s of servers) s.closeIdleConnections();
        }, ACCEPTED_GRACE_MS).unref();
        log.info(`Shutdown delay: accepting for ${delayMs / 1000} s more (--shutdown-delay)`);
      }
      await stopDelay.wait(delayMs);
      reloader?.close();
      const restorePaths = reexec.keepPaths(unixPaths);
      for (const s of intakes) s.close();
      for (const s of servers) s.close();
      restorePaths();
      // A connection accepted just before the listeners closed has its request on the way or
      // unread, so it counts as idle: closed now, it would go unanswered while another process
      // (a USR2 master, the other front ends) serves the socket. A moment lets those requests in.
      if (graceMs > 0 && !stopDelay.hurried) await sleep(ACCEPTED_GRACE_MS);
      for (const s of servers) s.closeIdleConnections();
      await arbiter.stop(stopDelay.hurried ? 0 : graceMs);
      reexec.releasePaths(inheritedPaths);
      for (const s of servers) s.closeAllConnections();
      metrics?.close();
      master.cleanUp();
      log.info(role ? `Shutting down: front end ${role.index}` : 'Shutting down: Master');
      await side.exiting();
      await logs.close();
      // Only now: a repeated SIGTERM/SIGINT while the logs flush must not kill the process by the
      // signal's default action (exit by signal, not 0).
      removeSignalHandlers();
    })());

  const close = (): Promise<void> => shutdown(config.gracefulTimeout * 1000, 'shutting down gracefully', config.shutdownDelay * 1000);
  const reload = async (): Promise<void> => {
    if (hooks && !(await hooks.reloading())) return;
    arbiter.reload();
  };
  const fatal = (err: NodicornError): void => {
    log.error(err.message);
    void close().then(() => options.onFatal?.(err));
  };
  hooks?.onFatal(fatal);

  let removeSignalHandlers = (): void => {};
  // Installed before binding: a SIGTERM that arrives while workers boot still stops cleanly.
  if (options.handleSignals || role) {
    const hup = hupHandler(config, { reread: options.rereadConfig, arbiter, hooks: hookParts, reload, log, retitle: role ? (c) => setProcessTitle(c, frontendTitle(role)) : undefined });
    const exitAfter = (stopping: Promise<void>): void => void stopping.then(() => process.exit(ExitCode.OK));
    const actions: MasterActions = {
      stop: () => exitAfter(close()),
      quit: () => (closing ? (stopDelay.hurry(), arbiter.hurry()) : exitAfter(shutdown(0, 'quit: quick shutdown'))),
      reload: () => void hup(),
      resize: (delta) => arbiter.resize(delta),
      reopenLogs: () => {
        // A front end's logs are its master's files: only its workers' own log files are its to reopen.
        if (!role) reopenLogs(log, logs.access);
        // As gunicorn's arbiter: the workers reopen their Python logging files (log configs).
        arbiter.signalReady('SIGUSR1');
      },
      reexec: () => void (hooks ? hooks.preExec() : Promise.resolve(true)).then((go) => go && reexec.start(listeners)),
      // Only a daemon has no terminal whose resizing sends WINCH too.
      dumpStacks: () => arbiter.dumpStacks(),
      winch: () => (config.daemon ? arbiter.stopWorkers() : log.debug('SIGWINCH ignored. Not daemonized')),
    };
    removeSignalHandlers = role ? role.control(actions) : installSignals(actions);
    if (!role) reexec.watchParent(() => master.promoted());
  }

  try {
    if (!role) master.writePidfile(inherited !== null);
    const places: ListenPlace[] = role
      ? role.listeners.map(({ handle, path }) => ({ address: { kind: 'handle', handle }, path }))
      : (await expandLocalhost(addresses)).map((address, i) => ({ address, path: address.kind === 'unix' ? address.path : (inherited?.paths[i] ?? null) }));
    const listenAll = async (): Promise<void> => {
      for (const [i, { address, path }] of places.entries()) {
        const scheme = tls ? 'https' : 'http';
        const server = frontend.createServer({ scheme, unixPath: path ?? undefined });
        const listener = config.proxyProtocol ? createProxyIntake(server, { allow: proxyAllow, headerTimeoutMs: PROXY_HEADER_TIMEOUT_MS, log }) : server;
        role?.balance.gate(listener, i, log);
        await listen(listener, address, config.backlog, master);
        servers.push(server);
        if (listener !== server) intakes.push(listener);
        if (address.kind === 'unix') unixPaths.push(address.path);
        if (path && address.kind === 'fd') inheritedPaths.push(path);
        listeners.push({ server: listener, path });
        const url = formatAddress(path ? { kind: 'unix', path } : actualAddress(listener, address), scheme);
        urls.push(url);
        // The master of several front ends says where it listens, once.
        if (!role) log.info(`Listening at: ${url} (${process.pid})`);
      }
    };
    // A replacing front end listens once its workers are up (see FrontendRole.replacing).
    if (!role?.replacing) await listenAll();
    // Workers are spawned once the process runs as --user: they inherit it (a front end's master switched already).
    if (!role) master.settle(unixPaths);
    // gunicorn's order: the listeners, when_ready (a front end's: its master's, once every front
    // end listens; a replacing one comes after it), then the workers.
    if (role && !role.replacing) await role.listening();
    await hooks?.ready();
    const view: ServerView = {
      ready: () => serving && !frontend.draining,
      queued: () => dispatcher.queued,
      rejected: () => dispatcher.rejected,
      workers: () => arbiter.members,
      restarts: () => arbiter.restarts,
    };
    role?.observe(view, stats);
    if (metricsAt && stats) {
      metrics = new MetricsServer(localView(stats, view));
      const port = await metrics.listen(metricsAt);
      log.info(`Metrics at: ${formatAddress(metricsAt.kind === 'tcp' ? { ...metricsAt, port } : metricsAt)}/metrics (/healthz, /readyz)`);
    }
    await arbiter.start();
    if (role?.replacing) await listenAll();
    serving = true;
    role?.ready(arbiter.pids);
    // A front end's pool is a part: its master sends the whole server's gauges.
    if (!role) logs.watch(() => ({ workers: arbiter.pids.length, backlog: dispatcher.queued }));
  } catch (err) {
    for (const s of [...intakes, ...servers]) s.close();
    metrics?.close();
    reloader?.close();
    await arbiter.stop(0).catch(() => {});
    master.cleanUp();
    await side.abandon();
    removeSignalHandlers();
    await logs.close();
    throw err;
  }
  arbiter.onFatal(fatal);

  return {
    urls,
    get workerPids() {
      return arbiter.pids;
    },
    spoolBudget,
    close,
  };
}

function frontendTitle(role: FrontendRole): string {
  return `frontend ${role.index}/${role.count}`;
}

/** --spool-dir, or the system temp dir; checked now, so a bad one fails at start, not mid-upload. */
function spoolDir(configured: string | null): string {
  return writableDir('--spool-dir', configured ?? tmpdir());
}

/** What ssl_context's default_ssl_context_factory loads: the SSL settings, paths made absolute. */
function tlsPaths(config: Config): Record<string, unknown> {
  const abs = (p: string | null): string | null => (p === null ? null : resolvePath(p));
  return {
    certfile: abs(config.certfile),
    keyfile: abs(config.keyfile),
    ca_certs: abs(config.caCerts),
    cert_reqs: config.certReqs,
    ciphers: config.ciphers,
    http_protocols: config.httpProtocols,
  };
}

/** Where a listener accepts: a --bind address, or a socket its master bound (a front end). */
type ListenAddress = BindAddress | { kind: 'handle'; handle: ListenHandle };
interface ListenPlace {
  address: ListenAddress;
  /** The unix socket's path, known even when the socket came bound. */
  path: string | null;
}

function listen(server: NetServer, address: ListenAddress, backlog: number, master: MasterProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new NodicornError('ERR_BIND', `Connection in use or not available: ${address.kind === 'handle' ? 'a socket from the master' : formatAddress(address)} (${err.code ?? err.message})`, ExitCode.UNEXPECTED));
    };
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (address.kind === 'unix') {
      removeStaleSocket(address.path);
      master.withUmask(() => server.listen({ path: address.path, backlog }, done));
    } else if (address.kind === 'fd') server.listen({ fd: address.fd, backlog }, done);
    else if (address.kind === 'handle') listenOnHandle(server, address.handle, backlog, done);
    else {
      // reusePort is Node 22.12+ (master.reusePort is false before), not yet in Node 20's types.
      const reuse = master.reusePort ? { reusePort: true } : {};
      server.listen({ host: address.host, port: address.port, backlog, ipv6Only: address.host.includes(':'), ...reuse }, done);
    }
  });
}

function actualAddress(server: NetServer, address: ListenAddress): BindAddress {
  if (address.kind === 'unix') return address;
  const info = server.address();
  // An fd is shown as the TCP address it is bound to, as gunicorn shows it.
  if (!info || typeof info === 'string') return address.kind === 'handle' ? { kind: 'fd', fd: address.handle.fd ?? -1 } : address;
  return { kind: 'tcp', host: address.kind === 'tcp' ? address.host : (info as AddressInfo).address, port: info.port };
}

/**
 * node:net listens on a TCP handle as it is; a unix socket's handle only through its fd (the
 * received handle object stays open beside the server's, for the process's life).
 */
function listenOnHandle(server: NetServer, handle: ListenHandle, backlog: number, done: () => void): void {
  if (handle.fd !== undefined && handle.fd >= 0 && !isTcpHandle(handle)) server.listen({ fd: handle.fd, backlog }, done);
  else server.listen(handle, backlog, done);
}

export type { Logger };
