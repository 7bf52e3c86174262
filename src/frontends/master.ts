/**
 * The master of several front ends (--frontends N, N > 1): it binds the listeners (and never
 * accepts on them), owns the pidfile and the log files, runs the server-level hooks, answers the
 * signals for the whole server and supervises the front ends (frontends/supervisor.ts), which
 * accept, parse and run their share of the workers.
 */
import type { Config } from '../config/settings';
import { formatAddress, metricsAddress, type BindAddress } from '../config/address';
import { ExitCode, NodicornError } from '../errors';
import { bindListenHandle, handlePort, type ListenHandle } from '../http/node-internals';
import { tlsSetup } from '../http/tls';
import { startPythonSide } from '../hooks/setup';
import { MasterProcess } from '../process/master';
import { installSignals } from '../process/signals';
import { Reexec, takeInherited } from '../process/reexec';
import { begin, expandLocalhost, removeStaleSocket, reopenLogs, version } from '../process/startup';
import { StopDelay } from '../ops/stop-delay';
import { MetricsServer } from '../ops/metrics-server';
import type { ServeOptions } from '../server';
import { Frontends, MASTER_HOOKS } from './supervisor';
import { FrontendsView } from './metrics-view';

export interface FrontendsHandle {
  readonly urls: string[];
  readonly workerPids: number[];
  close(): Promise<void>;
}

interface Bound {
  handle: ListenHandle;
  path: string | null;
  url: string;
}

export async function serveFrontends(config: Config, count: number, options: ServeOptions = {}): Promise<FrontendsHandle> {
  const inherited = options.handleSignals ? takeInherited() : null;
  const { cwd, python, logs, addresses } = await begin(config, inherited);
  const { log } = logs;
  // --metrics-bind: one listener here for the whole server; the front ends count, this sums.
  const metricsAt = config.metricsBind === null ? null : metricsAddress(config.metricsBind, config.bind);
  const reexec = new Reexec(log, inherited?.parentPid ?? 0);
  const master = MasterProcess.prepare(config, log, inherited !== null);
  // Checked here so that a bad certificate stops the start with one line; each front end loads it.
  const scheme = tlsSetup(config, process.cwd()) ? 'https' : 'http';
  // The server-level hooks run here once; the zygote (--preload) and the others in each front end.
  const side = await startPythonSide({ ...config, preloadApp: false, hooks: config.hooks.filter((h) => MASTER_HOOKS.has(h)) }, python.path, cwd, log);
  const { hooks } = side;
  const bound: Bound[] = [];
  let frontends: Frontends | null = null;
  let metrics: MetricsServer | null = null;
  let closing: Promise<void> | undefined;
  const stopDelay = new StopDelay();

  const closeListeners = (): void => {
    const restorePaths = reexec.keepPaths(bound.filter((b) => b.path !== null && !inherited).map((b) => b.path as string));
    for (const b of bound) b.handle.close();
    restorePaths();
  };
  const shutdown = (how: string, action: 'stop' | 'quit', graceMs: number, delayMs = 0): Promise<void> =>
    (closing ??= (async () => {
      log.info(`Handling signal: ${how}`);
      const stopping = frontends?.stop(action, graceMs) ?? Promise.resolve();
      // The front ends accept through --shutdown-delay; the master's copy of each socket goes with theirs.
      await Promise.race([stopDelay.wait(delayMs), stopping]);
      closeListeners();
      await stopping;
      metrics?.close();
      if (inherited) reexec.releasePaths(bound.flatMap((b) => (b.path ? [b.path] : [])));
      master.cleanUp();
      log.info('Shutting down: Master');
      await side.exiting();
      await logs.close();
      removeSignalHandlers();
    })());
  const close = (): Promise<void> => shutdown('term', 'stop', config.gracefulTimeout * 1000, config.shutdownDelay * 1000);
  const fatal = (err: NodicornError): void => {
    log.error(err.message);
    void shutdown('a front end cannot serve', 'stop', config.gracefulTimeout * 1000).then(() => options.onFatal?.(err));
  };
  hooks?.onFatal(fatal);

  let removeSignalHandlers = (): void => {};
  if (options.handleSignals) {
    const exitAfter = (stopping: Promise<void>): void => void stopping.then(() => process.exit(ExitCode.OK));
    let current = config;
    removeSignalHandlers = installSignals({
      stop: () => exitAfter(close()),
      quit: () => (closing ? (stopDelay.hurry(), frontends?.hurry()) : exitAfter(shutdown('quit: quick shutdown', 'quit', 0))),
      reload: () =>
        void (async () => {
          log.info('Handling signal: hup');
          if (hooks && !(await hooks.reloading())) return;
          try {
            if (options.rereadConfig) current = await options.rereadConfig();
          } catch (err) {
            log.error(`HUP: cannot read the configuration again (${(err as Error).message}); the new workers get the one the old had`);
          }
          frontends?.reload(current);
        })(),
      resize: (delta) => {
        const before = frontends?.workers ?? 0;
        if (frontends?.resize(delta > 0 ? 1 : -1)) hooks?.resized(frontends.workers, before);
      },
      reopenLogs: () => {
        reopenLogs(log, logs.access);
        frontends?.broadcast('reopen');
      },
      reexec: () => void (hooks ? hooks.preExec() : Promise.resolve(true)).then((go) => go && reexec.startOnFds(bound.map((b) => ({ fd: b.handle.fd ?? -1, path: b.path })))),
      dumpStacks: () => frontends?.broadcast('dumpStacks'),
      winch: () => (config.daemon ? frontends?.broadcast('winch') : log.debug('SIGWINCH ignored. Not daemonized')),
    });
    reexec.watchParent(() => master.promoted());
  }

  try {
    await hooks?.starting(config.workers);
    master.writePidfile(inherited !== null);
    log.info(`Starting nodicorn ${version()}`);
    log.info(`Workers run ${python.path} (${python.reason})`);
    for (const [i, address] of (await expandLocalhost(addresses)).entries()) bound.push(bind(address, inherited?.paths[i] ?? null, master, scheme));
    master.settle(bound.flatMap((b) => (b.path && !inherited ? [b.path] : [])));
    const started = new Frontends(config, count, {
      listeners: bound,
      log,
      errorLines: (text) => log.passLines(text),
      accessLines: (text) => logs.access?.passLines(text),
      onFatal: fatal,
      countRequests: metricsAt !== null,
    });
    frontends = started;
    const view = new FrontendsView(started, () => closing === undefined);
    if (metricsAt) {
      metrics = new MetricsServer(view);
      const port = await metrics.listen(metricsAt);
      log.info(`Metrics at: ${formatAddress(metricsAt.kind === 'tcp' ? { ...metricsAt, port } : metricsAt)}/metrics (/healthz, /readyz)`);
    }
    const running = started.start();
    running.catch(() => {});
    // The sockets listen once the front ends do: only then are connections queued, not refused.
    await Promise.race([started.listening(), running]);
    for (const b of bound) log.info(`Listening at: ${b.url} (${process.pid})`);
    await hooks?.ready();
    log.info(`${count} front ends, ${config.workers} workers`);
    started.go();
    await running;
    logs.watch(() => view.pool());
  } catch (err) {
    await frontends?.stop('quit', 0);
    metrics?.close();
    for (const b of bound) b.handle.close();
    master.cleanUp();
    await side.abandon();
    removeSignalHandlers();
    await logs.close();
    throw err;
  }
  return {
    urls: bound.map((b) => b.url),
    get workerPids() {
      return frontends?.workerPids ?? [];
    },
    close,
  };
}

/** Binds one --bind address (or an inherited fd) for the front ends, under --umask for a unix socket. */
function bind(address: BindAddress, inheritedPath: string | null, master: MasterProcess, scheme: string): Bound {
  try {
    if (address.kind === 'unix') {
      removeStaleSocket(address.path);
      const handle = master.withUmask(() => bindListenHandle({ kind: 'unix', path: address.path }));
      return { handle, path: address.path, url: formatAddress(address, scheme) };
    }
    if (address.kind === 'fd') {
      const handle = bindListenHandle({ kind: 'fd', fd: address.fd });
      const port = handlePort(handle);
      const url = inheritedPath ? formatAddress({ kind: 'unix', path: inheritedPath }) : formatAddress(port === null ? address : { kind: 'tcp', host: '0.0.0.0', port }, scheme);
      return { handle, path: inheritedPath, url };
    }
    const handle = bindListenHandle({ kind: 'tcp', host: address.host, port: address.port, ipv6Only: address.host.includes(':'), reusePort: master.reusePort });
    return { handle, path: null, url: formatAddress({ ...address, port: handlePort(handle) ?? address.port }, scheme) };
  } catch (err) {
    throw new NodicornError('ERR_BIND', `Connection in use or not available: ${formatAddress(address)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, ExitCode.UNEXPECTED);
  }
}
