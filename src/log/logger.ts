/**
 * The error log: lifecycle and problems, gunicorn-style text lines or one JSON object per line.
 *
 *   text: [2026-11-25 04:34:10 +0000] [1234] [INFO] Listening at: http://127.0.0.1:8000 (1234)
 *   json: {"time":"2026-11-25T04:34:10.123Z","level":"info","pid":1234,"message":"Listening at: ..."}
 *
 * `fields.pid` replaces the Node pid, so lines a worker printed carry the worker's pid.
 */
import { lineSafe } from './json-line';
import { LineSink } from './sink';
import { formatLogTime } from './time';

export const LOG_LEVELS = ['debug', 'info', 'warning', 'error', 'critical'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const SEVERITY = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 } as const satisfies Record<LogLevel, number>;
const LABEL = { debug: 'DEBUG', info: 'INFO', warning: 'WARNING', error: 'ERROR', critical: 'CRITICAL' } as const;

/**
 * Marks a line a worker printed (captured from its stdout or stderr), not one of the server's
 * own: it is neither counted by StatsD nor mirrored to syslog, as under gunicorn, whose loggers
 * never see what the app prints. 'levelled' is a line the worker's logging already filtered by
 * level (see captured.ts): it is written whatever --log-level says.
 */
export const FROM_WORKER = Symbol('from worker');
/** Marks an error that carries a traceback: gunicorn's log.exception(), counted as such. */
export const EXCEPTION = Symbol('exception');

/** Symbol keys are never rendered (Object.keys skips them). */
export type LogFields = Record<string, unknown> & { [FROM_WORKER]?: 'raw' | 'levelled'; [EXCEPTION]?: true };
export type LogMethod = (message: string, fields?: LogFields) => void;

export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warning: LogMethod;
  error: LogMethod;
  critical: LogMethod;
  /** Whether a message at `level` would be written (to skip building costly ones). */
  isEnabled(level: LogLevel): boolean;
  /** Resolves once every line so far is written. */
  flush(): Promise<void>;
  /** Flushes and closes the log file (stderr stays open). */
  close(): Promise<void>;
  /** SIGUSR1 after a log rotation: opens the log file's path again (see LineSink.reopen). */
  reopen(): Error | null;
  /** Whole lines, already rendered elsewhere (a front end's), written as they are. */
  passLines(text: string): void;
}

export interface LoggerOptions {
  /** A path to append to, "-" for stderr, or an fd (a front end's pipe to its master). */
  errorLogfile: string | number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Sees each of the server's own lines, whatever the level (StatsD's gunicorn.log.* counters). */
  observe?: (level: LogLevel, exception: boolean) => void;
  /** Gets each of the server's own lines that passes --log-level (syslog). */
  mirror?: (level: LogLevel, message: string, pid: number) => void;
}

/** Keys a JSON line always has; fields cannot overwrite them (pid excepted, on purpose). */
const RESERVED = new Set(['time', 'level', 'message']);

export function createLogger(options: LoggerOptions): Logger {
  const sink = new LineSink(options.errorLogfile, { std: 'stderr', batch: false, label: '--error-logfile' });
  const threshold = SEVERITY[options.logLevel];
  const render = options.logFormat === 'json' ? renderJson : renderText;
  const { observe, mirror } = options;
  const method =
    (level: LogLevel): LogMethod =>
    (message, fields) => {
      const fromWorker = fields?.[FROM_WORKER];
      if (fromWorker === undefined) observe?.(level, fields?.[EXCEPTION] === true);
      if (SEVERITY[level] < threshold && fromWorker !== 'levelled') return;
      sink.write(render(level, message, fields));
      if (fromWorker === undefined && mirror) mirror(level, message, typeof fields?.pid === 'number' ? fields.pid : process.pid);
    };
  return {
    debug: method('debug'),
    info: method('info'),
    warning: method('warning'),
    error: method('error'),
    critical: method('critical'),
    isEnabled: (level) => SEVERITY[level] >= threshold,
    flush: () => sink.flush(),
    close: () => sink.close(),
    reopen: () => sink.reopen(),
    passLines: (text) => sink.write(text),
  };
}

function renderText(level: LogLevel, message: string, fields: LogFields | undefined): string {
  const pid = fields?.pid ?? process.pid;
  let line = `[${formatLogTime(Date.now())}] [${String(pid)}] [${LABEL[level]}] ${message}`;
  if (fields) {
    for (const key of Object.keys(fields)) {
      if (key === 'pid') continue;
      line += ` ${key}=${textValue(fields[key])}`;
    }
  }
  return line + '\n';
}

/** Plain words as they are; anything with spaces, quotes or structure as JSON. */
function textValue(value: unknown): string {
  if (typeof value === 'string' && /^[^\s"=]+$/.test(value)) return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return safeStringify(value);
}

function renderJson(level: LogLevel, message: string, fields: LogFields | undefined): string {
  const record: Record<string, unknown> = {
    time: new Date().toISOString(),
    level,
    pid: process.pid,
    message,
  };
  if (fields) {
    for (const key of Object.keys(fields)) {
      if (!RESERVED.has(key)) record[key] = fields[key];
    }
  }
  return lineSafe(safeStringify(record)) + '\n';
}

/** JSON.stringify that copes with Errors, BigInts and cycles instead of throwing. */
export function safeStringify(value: unknown): string {
  const seen = new WeakSet<object>();
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Error) return { name: v.name, message: v.message, stack: v.stack };
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
    }
    return v;
  });
  return text ?? 'null';
}
