/**
 * A line a worker printed on stdout or stderr, into the error log with the worker's pid.
 *
 * A line may start with a syslog severity, "<3>" (the convention journald reads on stderr): the
 * worker's own logging handlers (python/nodicorn_worker/logconfig.py) mark each line so, and the
 * line is written at that level without the mark, whatever --log-level says (Python's logging
 * already filtered it). Other lines get the stream's level: info for stdout, warning for stderr.
 */
import { FROM_WORKER, type LogLevel, type Logger } from './logger';

/** Syslog severities 0-7 (emerg .. debug) as error-log levels. */
const SEVERITIES: readonly LogLevel[] = ['critical', 'critical', 'critical', 'error', 'warning', 'info', 'info', 'debug'];

export function logCaptured(log: Logger, streamLevel: 'info' | 'warning', line: string, pid: number): void {
  if (line.length >= 3 && line.charCodeAt(0) === 60 /* < */ && line.charCodeAt(2) === 62 /* > */) {
    const level = SEVERITIES[line.charCodeAt(1) - 48];
    if (level !== undefined) {
      log[level](line.slice(3), { pid, [FROM_WORKER]: 'levelled' });
      return;
    }
  }
  log[streamLevel](line, { pid, [FROM_WORKER]: 'raw' });
}
