/**
 * The composition root: builds the logger, the worker pool, the dispatcher and the listeners
 * from a Config, and returns a handle to stop them.
 */
import { lookup } from 'node:dns/promises';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import type { Config } from './config/settings';
import { choosePython } from './config/python';
import { envPairs } from './config/env';
import { NodicornError, ExitCode, ConfigError } from './errors';
import type { Logger } from './log/logger';
import type { AccessLog } from './log/access';
import { openLogs } from './log/setup';
import { logConfigTargets, workerLogArgs } from './log/worker-logging';
import { Dispatcher } from './dispatch/dispatcher';
import { Arbiter } from './workers/arbiter';
import { startReloader } from './workers/reload-setup';
import { Frontend } from './http/frontend';
import { budgetLimits, SpoolBudget } from './http/response/budget';
import type { FrontServer } from './http/engine';
import { tlsSetup } from './http/tls';
import { parseBind, formatAddress, metricsAddress, type BindAddress } from './config/address';
import { AddressList } from './http/proxy/address-list';
import { ProxyTrust } from './http/proxy/forwarded';
import { createProxyIntake } from './http/proxy/proxy-intake';
import { installSignals } from './process/signals';
import { hupHandler } from './process/hup';
import { arbiterOptions, requireApp } from './process/pool-options';
import { Reexec, takeInherited, type Listener } from './process/reexec';
import { MasterProcess, procName } from './process/master';
import { writableDir } from './process/writable-dir';
import { startPythonSide } from './hooks/setup';
import { parseStaticMapping, type StaticMapping } from './http/static/mounts';
import { StaticFiles } from './http/static/serve';
import { StopDelay } from './ops/stop-delay';
import { RequestIds } from './http/request/request-id';
import { RequestStats } from './ops/request-stats';
import { MetricsServer } from './ops/metrics-server';

/** How long --proxy-protocol waits for a connection's PROXY header (a proxy sends it at once). */
const PROXY_HEADER_TIMEOUT_MS = 5_000;

export interface ServeOptions {
  /** Answer the master's signals as gunicorn does (see process/signals.ts): the CLI does; an embedding app may not. */
  handleSignals?: boolean;
  /** HUP reads the configuration again with this (the CLI's command line, environment, config file). */
  rereadConfig?: () => Promise<Config>;
  /** Called when the server stops on its own (a worker that cannot boot), with the exit code. */
  onFatal?: (err: NodicornError) => void;
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
  const inherited = options.handleSignals ? takeInherited() : null;
  const cwd = resolvePath(config.chdir);
  const python = await choosePython(config, process.env, cwd);
  const logArgs = workerLogArgs(config, process.cwd());
  // A log config may move gunicorn's own loggers, and so nodicorn's error and access lines.
  const targets = await logConfigTargets({ python: python.path, cwd, pythonpath: config.pythonpath, env: envPairs(config.rawEnv), logArgs });
  const logs = await openLogs({ ...config, ...targets.settings });
  const { log } = logs;
  for (const warning of targets.warnings) log.warning(warning);
  requireApp(config);
  const bound = config.bind.map((spec) => {
    const address = parseBind(spec);
    if (!address) throw new ConfigError(`--bind: expected HOST:PORT, [HOST]:PORT, :PORT or unix:PATH, got "${spec}"`);
    return address;
  });
  const addresses: BindAddress[] = inherited ? inherited.fds.map((fd) => ({ kind: 'fd', fd })) : bound;
  // --metrics-bind: checked before anything starts; the requests are counted only when it is set.
  const metricsAt = config.metricsBind === null ? null : metricsAddress(config.metricsBind, config.bind);
  const stats = metricsAt ? new RequestStats() : null;
  const reexec = new Reexec(log, inherited?.parentPid ?? 0);
  const master = MasterProcess.prepare(config, log, inherited !== null);
  // Certificates are read before anything starts: a bad path is a config error, not a late failure.
  let tls = tlsSetup(config, process.cwd());
  const side = await startPythonSide(config, python.path, cwd, log);
  const { hooks } = side;
  try {
    await hooks?.starting(config.workers);
    if (tls && hooks) tls = await hooks.sslContext(tls, tlsPaths(config));
  } catch (err) {
    await side.abandon();
    throw err;
  }
  const dispatcher = new Dispatcher(config.backlog);
  const hookParts = side.parts;
  const arbiter = new Arbiter(arbiterOptions(config, python.path, cwd, hookParts), dispatcher, log);
  const spoolPath = spoolDir(config.spoolDir);
  const budget = budgetLimits(config.spoolMemoryLimit, config.spoolDiskLimit, spoolPath);
  const spoolBudget = new SpoolBudget(budget.memory, budget.disk, log);
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
      maxConnections: config.workerConnections,
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

  log.info(`Starting nodicorn ${version()}`);
  log.info(`Workers run ${python.path} (${python.reason})`);
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
      for (const s of servers) s.closeIdleConnections();
      if (delayMs > 0) log.info(`Shutdown delay: accepting for ${delayMs / 1000} s more (--shutdown-delay)`);
      await stopDelay.wait(delayMs);
      reloader?.close();
      const restorePaths = reexec.keepPaths(unixPaths);
      for (const s of intakes) s.close();
      for (const s of servers) s.close();
      restorePaths();
      for (const s of servers) s.closeIdleConnections();
      await arbiter.stop(stopDelay.hurried ? 0 : graceMs);
      reexec.releasePaths(inheritedPaths);
      for (const s of servers) s.closeAllConnections();
      metrics?.close();
      master.cleanUp();
      log.info('Shutting down: Master');
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
  if (options.handleSignals) {
    const hup = hupHandler(config, { reread: options.rereadConfig, arbiter, hooks: hookParts, reload, log });
    const exitAfter = (stopping: Promise<void>): void => void stopping.then(() => process.exit(ExitCode.OK));
    removeSignalHandlers = installSignals({
      stop: () => exitAfter(close()),
      quit: () => (closing ? (stopDelay.hurry(), arbiter.hurry()) : exitAfter(shutdown(0, 'quit: quick shutdown'))),
      reload: () => void hup(),
      resize: (delta) => arbiter.resize(delta),
      reopenLogs: () => {
        reopenLogs(log, logs.access);
        // As gunicorn's arbiter: the workers reopen their Python logging files (log configs).
        arbiter.signalReady('SIGUSR1');
      },
      reexec: () => void (hooks ? hooks.preExec() : Promise.resolve(true)).then((go) => go && reexec.start(listeners)),
      // Only a daemon has no terminal whose resizing sends WINCH too.
      dumpStacks: () => arbiter.dumpStacks(),
      winch: () => (config.daemon ? arbiter.stopWorkers() : log.debug('SIGWINCH ignored. Not daemonized')),
    });
    reexec.watchParent(() => master.promoted());
  }

  try {
    master.writePidfile(inherited !== null);
    for (const [i, address] of (await expandLocalhost(addresses)).entries()) {
      const scheme = tls ? 'https' : 'http';
      const path = address.kind === 'unix' ? address.path : (inherited?.paths[i] ?? null);
      const server = frontend.createServer({ scheme, unixPath: path ?? undefined });
      const listener = config.proxyProtocol ? createProxyIntake(server, { allow: proxyAllow, headerTimeoutMs: PROXY_HEADER_TIMEOUT_MS, log }) : server;
      await listen(listener, address, config.backlog, master);
      servers.push(server);
      if (listener !== server) intakes.push(listener);
      if (address.kind === 'unix') unixPaths.push(address.path);
      if (path && address.kind === 'fd') inheritedPaths.push(path);
      listeners.push({ server: listener, path });
      const url = formatAddress(path ? { kind: 'unix', path } : actualAddress(listener, address), scheme);
      urls.push(url);
      log.info(`Listening at: ${url} (${process.pid})`);
    }
    // Workers are spawned once the process runs as --user: they inherit it.
    master.settle(unixPaths);
    // gunicorn's order: the listeners, when_ready, then the workers.
    await hooks?.ready();
    if (metricsAt && stats) {
      metrics = new MetricsServer(stats, {
        ready: () => serving && !frontend.draining,
        queued: () => dispatcher.queued,
        rejected: () => dispatcher.rejected,
        workers: () => arbiter.members,
        restarts: () => arbiter.restarts,
      });
      const port = await metrics.listen(metricsAt);
      log.info(`Metrics at: ${formatAddress(metricsAt.kind === 'tcp' ? { ...metricsAt, port } : metricsAt)}/metrics (/healthz, /readyz)`);
    }
    await arbiter.start();
    serving = true;
    logs.watch({ workers: () => arbiter.pids.length, backlog: () => dispatcher.queued });
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

/** "localhost" means every loopback address it resolves to, as a browser tries both. */
async function expandLocalhost(addresses: BindAddress[]): Promise<BindAddress[]> {
  const out: BindAddress[] = [];
  for (const a of addresses) {
    if (a.kind === 'tcp' && a.host === 'localhost') {
      const found = await lookup('localhost', { all: true }).catch(() => [{ address: '127.0.0.1', family: 4 }]);
      const hosts = [...new Set(found.map((f) => f.address))];
      for (const host of hosts) out.push({ kind: 'tcp', host, port: a.port });
    } else out.push(a);
  }
  return out;
}

function listen(server: NetServer, address: BindAddress, backlog: number, master: MasterProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new NodicornError('ERR_BIND', `Connection in use or not available: ${formatAddress(address)} (${err.code ?? err.message})`, ExitCode.UNEXPECTED));
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
    else {
      // reusePort is Node 22.12+ (master.reusePort is false before), not yet in Node 20's types.
      const reuse = master.reusePort ? { reusePort: true } : {};
      server.listen({ host: address.host, port: address.port, backlog, ipv6Only: address.host.includes(':'), ...reuse }, done);
    }
  });
}

function removeStaleSocket(path: string): void {
  if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
}

function actualAddress(server: NetServer, address: BindAddress): BindAddress {
  if (address.kind === 'unix') return address;
  const info = server.address();
  // An fd is shown as the TCP address it is bound to, as gunicorn shows it.
  if (!info || typeof info === 'string') return address;
  return { kind: 'tcp', host: address.kind === 'tcp' ? address.host : (info as AddressInfo).address, port: info.port };
}

/** USR1: the log files are opened again, after a rotation renamed them away. */
function reopenLogs(log: Logger, access: AccessLog | null): void {
  const failures = [['error log', log.reopen()], ['access log', access?.reopen() ?? null]] as const;
  // Logged after: the line belongs in the new file, where the operator looks.
  log.info('Handling signal: usr1: reopened the log files');
  for (const [what, err] of failures) if (err) log.error(`cannot reopen the ${what}: ${err.message}`);
}

function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require('../package.json') as { version: string }).version;
}

export type { Logger };
