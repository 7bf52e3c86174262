/**
 * One base error with a stable code, and the exit-code table shared with the Python worker
 * (python/nodicorn_worker/exitcodes.py mirrors it).
 */

export const ExitCode = {
  OK: 0,
  UNEXPECTED: 1,
  /** A bad flag, env var or config file value. */
  USAGE: 2,
  /** The worker itself could not start (bad interpreter, missing fd, protocol mismatch). */
  WORKER_BOOT: 3,
  /** The app could not be imported or is not callable. */
  APP_LOAD: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class NodicornError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode = ExitCode.UNEXPECTED,
  ) {
    super(message);
    this.name = 'NodicornError';
  }
}

/** A problem with the configuration: printed as one line, exit 2. */
export class ConfigError extends NodicornError {
  constructor(message: string) {
    super('ERR_CONFIG', message, ExitCode.USAGE);
    this.name = 'ConfigError';
  }
}

/** An error that ends one request with an HTTP status. */
export class HttpError extends NodicornError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
    this.name = 'HttpError';
  }
}
