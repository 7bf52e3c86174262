/**
 * Builds the server's logging from the configuration: the error log (with StatsD's
 * gunicorn.log.* counters and the syslog mirror as its observers), the per-request log (the
 * access log and StatsD's request metrics; null when neither is on, so a request then does no
 * logging work at all), and the pool gauges once the workers run.
 */
import { AccessLog, type AccessEntry, type RequestLog } from './access';
import { createLogger, type LogFormat, type LogLevel, type Logger } from './logger';
import { Statsd, parseStatsdAddress, watchPool, type PoolReader } from './statsd';
import { Syslog, parseFacility, parseSyslogAddress } from './syslog';

/** The settings this reads (a Config has them: the registry's logging settings). */
export interface LogSettings {
  app: string | null;
  name: string | null;
  errorLogfile: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  accessLogfile: string | null;
  accessLogformat: string;
  requestIdHeader: string | null;
  syslog: boolean;
  syslogAddr: string;
  syslogPrefix: string | null;
  syslogFacility: string;
  disableRedirectAccessToSyslog: boolean;
  statsdHost: string | null;
  statsdPrefix: string;
  dogstatsdTags: string;
  enableBacklogMetric: boolean;
  /**
   * In a front end: the pipes to the master, which writes the files (one writer per file). The
   * error log goes to `error`, and the access log, when there is one, to `access`.
   */
  relay?: { error: number; access: number };
}

export interface ServerLogs {
  log: Logger;
  /** The access log (a file, stdout, or only syslog); for SIGUSR1's reopen. */
  access: AccessLog | null;
  /** What the front end reports each finished request to; null when nothing wants it. */
  requests: RequestLog | null;
  /**
   * Starts StatsD's worker gauge and backlog histogram (no-op without StatsD), in the one
   * process that knows the whole pool: a single server, or the master of several front ends.
   */
  watch(pool: PoolReader): void;
  /** Flushes and closes everything (stderr stays open). */
  close(): Promise<void>;
}

/** The counters gunicorn's StatsD logger keeps for its own log lines. */
const COUNTED: Partial<Record<LogLevel, string>> = {
  critical: 'gunicorn.log.critical',
  error: 'gunicorn.log.error',
  warning: 'gunicorn.log.warning',
};

export async function openLogs(config: LogSettings): Promise<ServerLogs> {
  let statsd: Statsd | null = null;
  let syslog: Syslog | null = null;
  const log = createLogger({
    errorLogfile: config.relay?.error ?? config.errorLogfile,
    logLevel: config.logLevel,
    logFormat: config.logFormat,
    observe: (level, exception) => {
      if (statsd === null) return;
      const counter = exception ? 'gunicorn.log.exception' : COUNTED[level];
      if (counter) statsd.increment(counter);
    },
    mirror: (level, message, pid) => syslog?.error(level, message, pid),
  });
  try {
    if (config.syslog) {
      syslog = await Syslog.open({
        address: parseSyslogAddress(config.syslogAddr),
        facility: parseFacility(config.syslogFacility),
        prefix: config.syslogPrefix ?? config.name ?? config.app ?? 'nodicorn',
      });
    }
    if (config.statsdHost) statsd = await openStatsd(config, log);
  } catch (err) {
    syslog?.close();
    await log.close();
    throw err;
  }
  const syslogAccess = syslog !== null && !config.disableRedirectAccessToSyslog ? syslog : null;
  const access =
    config.accessLogfile !== null || syslogAccess !== null
      ? new AccessLog({
          file: config.accessLogfile === null ? null : (config.relay?.access ?? config.accessLogfile),
          format: config.accessLogformat,
          json: config.logFormat === 'json',
          requestIdHeader: config.requestIdHeader,
          mirror: syslogAccess ? (line, entry) => syslogAccess.access(line, entry.workerPid || process.pid) : undefined,
        })
      : null;
  let stopWatching = (): void => {};
  return {
    log,
    access,
    requests: both(access, statsd),
    watch(pool) {
      if (statsd) stopWatching = watchPool(statsd, pool, config.enableBacklogMetric);
    },
    async close() {
      stopWatching();
      await access?.close();
      statsd?.close();
      syslog?.close();
      await log.flush();
    },
  };
}

async function openStatsd(config: LogSettings, log: Logger): Promise<Statsd | null> {
  const address = parseStatsdAddress(config.statsdHost as string);
  try {
    return await Statsd.open({ address, prefix: config.statsdPrefix, tags: config.dogstatsdTags });
  } catch (err) {
    // gunicorn carries on without metrics when its StatsD socket cannot be set up.
    log.error(`--statsd-host: cannot send to ${address.host}:${address.port} (${(err as NodeJS.ErrnoException).code ?? String(err)}): no metrics`);
    return null;
  }
}

function both(a: RequestLog | null, b: RequestLog | null): RequestLog | null {
  if (a === null) return b;
  if (b === null) return a;
  return {
    log(entry: AccessEntry) {
      a.log(entry);
      b.log(entry);
    },
  };
}
