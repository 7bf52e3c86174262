/**
 * Request buffering (what nginx does in front of gunicorn): the body is received whole into a
 * Spool before the request goes to a worker, so a client that uploads slowly holds a spool, never
 * a Python thread. While it waits it holds the body to --limit-request-body and to the body
 * timeout; once complete, the worker reads it through a Readable over the spool, at its own pace.
 */
import type { AnyRequest } from '../engine';
import { Readable } from 'node:stream';
import type { BodyHandOff, HandOffBody } from '../../exchange';
import { HttpError } from '../../errors';
import { Spool } from '../spool';
import { bodyTooLarge } from './limits';

export interface BodyOptions {
  /** --body-buffer-size: bytes kept in memory before the temp file. */
  memory: number;
  /** --spool-dir, resolved. */
  dir: string;
  /** --limit-request-body; 0 = unlimited. */
  maxBody: number;
  /** --body-timeout in ms; 0 = none. */
  timeoutMs: number;
  /** --body-min-rate in bytes per second; each such many bytes received buy one more second. */
  minRate: number;
}

export interface BodyHooks {
  /** The body went past memory into a temp file. */
  spilled(): void;
  /**
   * The temp file failed (disk full, spool dir gone): a server problem, not the client's. Before
   * the body is complete `done` then reports a 500; after, the exchange is the caller's to end.
   */
  spoolFailed(error: Error): void;
  /** Exactly once, unless cancelled first: the whole body, or why it was refused. */
  done(error: HttpError | null, body: Readable | null): void;
}

/** Reads of the temp file: a quarter of the worker's credit window per read. */
const FILE_READ = 256 * 1024;

/** Starts receiving `req`'s body; the returned function stops it and frees the spool (idempotent). */
export function receiveBody(req: AnyRequest, options: BodyOptions, hooks: BodyHooks): () => void {
  const started = performance.now();
  let stop: (() => void) | null = null;
  let cancelled = false;
  // llhttp parses a whole socket read in one go, though node:http runs the nextTick queue after
  // the head's callback: after this turn's I/O, a body that came in the same read as its head is
  // complete, held in req's own buffer (one read: 64 KiB at most). The common small request then
  // goes on as it is: no spool, no timer, no second stream.
  setImmediate(() => {
    if (cancelled) return;
    if (!req.complete) {
      stop = spoolBody(req, options, hooks, started);
      return;
    }
    if (options.maxBody > 0 && req.readableLength > options.maxBody) {
      hooks.done(bodyTooLarge(options.maxBody), null);
      return;
    }
    hooks.done(null, req);
  });
  return () => {
    cancelled = true;
    stop?.();
  };
}

/** The body is still coming: received into a Spool, held to the size limit and the timeout. */
function spoolBody(req: AnyRequest, options: BodyOptions, hooks: BodyHooks, started: number): () => void {
  let settled = false;
  let timer: NodeJS.Timeout | null = null;
  const spool = new Spool({
    memory: options.memory,
    dir: options.dir,
    onSpill: hooks.spilled,
    onError: (err) => {
      hooks.spoolFailed(err);
      finish(new HttpError(500, 'ERR_SPOOL', `cannot spool the request body: ${err.message}`));
    },
  });

  const stop = (): void => {
    settled = true;
    if (timer) clearTimeout(timer);
    timer = null;
    req.off('data', onData);
    req.off('end', onEnd);
  };
  const finish = (error: HttpError): void => {
    if (settled) return;
    stop();
    spool.destroy();
    hooks.done(error, null);
  };
  const onData = (chunk: Buffer): void => {
    if (options.maxBody > 0 && spool.total + chunk.length > options.maxBody) {
      finish(bodyTooLarge(options.maxBody));
      return;
    }
    // The disk is behind: stop reading the socket until it catches up, so memory stays bounded.
    if (!spool.append(chunk)) {
      req.pause();
      spool.onDrain(() => {
        if (!settled) req.resume();
      });
    }
  };
  const onEnd = (): void => {
    if (settled) return;
    stop();
    hooks.done(null, new SpoolReader(spool));
  };
  // mod_reqtimeout's rule: a deadline that each `minRate` bytes received push back by a second,
  // so a steady upload of any size finishes while a trickle is cut off.
  const check = (): void => {
    const extra = options.minRate > 0 ? (spool.total / options.minRate) * 1000 : 0;
    const left = started + options.timeoutMs + extra - performance.now();
    if (left > 0) {
      timer = setTimeout(check, Math.ceil(left));
      return;
    }
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    finish(new HttpError(408, 'ERR_BODY_TIMEOUT', `request body too slow: ${spool.total} bytes in ${secs} s (--body-timeout, --body-min-rate)`));
  };
  if (options.timeoutMs > 0) timer = setTimeout(check, options.timeoutMs);
  req.on('data', onData);
  req.on('end', onEnd);
  return () => {
    if (!settled) stop();
    spool.destroy();
  };
}

/**
 * The spooled body as the Readable the worker channel pumps. It never emits 'error' (nobody
 * listens for one): a temp file that fails mid-read was reported by the spool's onError, which
 * ends the exchange; the body just stops.
 */
class SpoolReader extends Readable implements HandOffBody {
  /** A file read is in flight: Readable may ask again after a synchronous push, and two reads would take the same bytes. */
  private reading = false;
  /** Bytes were taken: through _read, or by a hand-off. */
  private taken = false;

  constructor(private readonly spool: Spool) {
    super({ highWaterMark: FILE_READ });
  }

  handOff(maxMemory: number, done: (error: Error | null, handOff: BodyHandOff | null) => void): boolean {
    const spool = this.spool;
    if (this.taken || !spool.spilledToFile || spool.memoryBytes > maxMemory) return false;
    this.taken = true;
    const chunks: Buffer[] = [];
    for (let chunk = spool.shiftMemory(Infinity); chunk; chunk = spool.shiftMemory(Infinity)) chunks.push(chunk);
    spool.lend((error, loan) => {
      if (error) return done(error, null);
      if (loan === null) return done(null, { chunks, file: null, release: noop });
      // The worker's way to this descriptor (Linux): the file itself has no name any more.
      const path = `/proc/${process.pid}/fd/${loan.fd}`;
      done(null, { chunks, file: { path, offset: loan.offset, length: loan.length, dev: loan.dev, ino: loan.ino }, release: loan.giveBack });
    });
    return true;
  }

  override _read(): void {
    this.taken = true;
    if (this.reading) return;
    // Memory chunks are the parser's own buffers: handed on as they are, without a copy.
    for (let chunk = this.spool.shiftMemory(Infinity); chunk; chunk = this.spool.shiftMemory(Infinity)) {
      if (!this.push(chunk)) return;
    }
    this.reading = true;
    this.spool.read(FILE_READ, (err, chunk) => {
      this.reading = false;
      if (err) return;
      if (chunk === null) this.spool.destroy();
      this.push(chunk);
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.spool.destroy();
    callback(error);
  }
}

function noop(): void {}
