/**
 * Writes a worker's response onto an HTTP/1.1 response (either engine's) or an HTTP/2 stream,
 * through the one Wire (wire.ts) that hides which: status and headers, body with flow-control
 * acknowledgements, files straight from disk, and errors as one generic response.
 */
import type { Pairs, ResponseSink } from '../../exchange';
import { WHOLE_FILE } from '../../protocol/frames';
import type { HttpError } from '../../errors';
import type { Logger } from '../../log/logger';
import { Spool } from '../spool';
import type { BudgetHolder, SpoolBudget } from './budget';
import type { SendWatch } from './send-watch';
import { respondWithError } from './error-response';
import { release, streamFile, type SinkFile } from './sink-file';
import type { Wire } from './wire';

/** Output that waits for the client, in order. */
type Op =
  | { kind: 'bytes'; n: number }
  | { kind: 'file'; range: SinkFile }
  | { kind: 'end' }
  | { kind: 'fail'; error: HttpError; close: boolean };

/** How much of a response a slow client may leave with Node (--body-buffer-size and friends). */
export interface SpoolSettings {
  /** Bytes held in memory per response before the temp file. */
  memory: number;
  /** Where the temp file goes. */
  dir: string;
  /** The most bytes the temp file may hold; past it the worker waits for the client. 0: no file. */
  maxFile: number;
  /** What all responses together may hold (--spool-memory-limit, --spool-disk-limit); none: unbounded. */
  budget?: SpoolBudget;
}

/** Reads of a response's temp file. */
const FILE_READ = 256 * 1024;

/**
 * The last body piece always goes to end(), so it leaves in the head's write. Up to this size it
 * goes as a latin-1 string, which both engines join to the head in one buffer: decoding a small
 * piece costs less than a writev's second piece. A bigger one goes as a Buffer, that second
 * piece, since decoding and copying 10 KB cost more (measured in bench/, see docs/perf-journal.md).
 */
const ONE_WRITE = 2048;

/**
 * The worker gets its flow-control credit as soon as Node holds the bytes (the socket took them,
 * node:http buffered them, or the spool did), never when the client reads them: a client that
 * reads slowly, or not at all, costs a spool, never a Python thread.
 */
export class HttpResponseSink implements ResponseSink, BudgetHolder {
  /** Body bytes the app declared with Content-Length, or -1. */
  private declared = -1;
  /** Body bytes accepted so far (sent or queued), for the Content-Length checks. */
  private written = 0;
  private finished = false;
  /**
   * null while the socket keeps up: bytes are written straight through (the fast path, no spool).
   * Otherwise what waits for the client: body bytes (held by `spool`), files, the end.
   */
  private backlog: Op[] | null = null;
  private spool: Spool | null = null;
  /** A temp-file read or a file_wrapper file is on its way to the socket. */
  private busy = false;
  private drainHooked = false;
  /** A checkSocket is queued for this tick's writes. */
  private checkQueued = false;
  /** Credits kept back while the spool holds more than it may (--max-temp-file-size). */
  private held: Array<() => void> = [];
  /** The last body piece, kept back for end() to send with the head (see ONE_WRITE). */
  private tail: Buffer | null = null;
  /** When the client last took bytes, or fell behind (see BudgetHolder). */
  lastRead = 0;
  /** --request-id-header's name (lower-case) and the request's id, sent with every head. */
  private echoed: [lower: string, name: string, value: string] | null = null;
  /** Set by the response writer: what the access log reports. */
  status = 0;
  bytes = 0;
  responseHeaders: Pairs = [];

  constructor(
    private readonly wire: Wire,
    private readonly isHead: boolean,
    private readonly log: Logger,
    private readonly settings: SpoolSettings,
    private readonly sendWatch: SendWatch,
  ) {}

  /** At 'close': whether the whole response went out (else the client went away first). */
  get delivered(): boolean {
    return this.wire.delivered;
  }

  get headersSent(): boolean {
    return this.wire.headersSent;
  }

  get memoryHeld(): number {
    return this.spool?.memoryBytes ?? 0;
  }

  get diskHeld(): number {
    return this.spool?.diskBytes ?? 0;
  }

  /** The budget needs the room: the client is cut off and the response aborted, as if it left. */
  evict(): void {
    this.wire.destroy();
    this.onClose();
  }

  sendContinue(): void {
    if (!this.wire.headersSent && !this.finished) this.wire.writeContinue();
  }

  /** Adds `name: value` to the response (its head or an error answer), unless the app sets `name` itself. */
  echo(name: string, value: string): void {
    this.echoed = [name.toLowerCase(), name, value];
  }

  head(status: number, reason: string, headers: Pairs): void {
    if (this.finished) return;
    const flat: string[] = [];
    let close = false;
    let echoed = this.echoed;
    for (const [name, value] of headers) {
      if (echoed !== null && name.length === echoed[0].length && name.toLowerCase() === echoed[0]) echoed = null;
      if (name.length === 14 && name.toLowerCase() === 'content-length') {
        const n = Number(value);
        if (Number.isSafeInteger(n) && n >= 0) this.declared = n;
      } else if (name.length === 10 && name.toLowerCase() === 'connection') {
        // The worker only lets "Connection: close" through; node:http sets the header itself.
        close = true;
        continue;
      }
      flat.push(name, value);
    }
    if (echoed !== null) flat.push(echoed[1], echoed[2]);
    this.status = status;
    this.responseHeaders = headers;
    try {
      this.wire.writeHead(status, reason, flat, close);
    } catch (err) {
      // The worker validated the headers; node:http refusing them anyway is an app bug seen late.
      this.log.error(`invalid response head from the app: ${(err as Error).message}`);
      this.wire.destroy();
      this.settle();
    }
  }

  body(chunk: Buffer, flushed: (n: number) => void, ending = false): void {
    const size = chunk.length;
    const piece = this.finished || this.wire.gone ? null : this.counted(chunk);
    if (piece === null) flushed(size);
    else if (ending && this.backlog === null && this.wire.holdsLastPiece && this.tail === null) {
      // The last piece goes to end() (see finish): no write held for the turn, one write with the head.
      this.tail = piece;
      flushed(size);
    } else if (this.backlog === null) {
      this.writeThrough(piece);
      flushed(size);
    } else {
      this.spoolBehind(this.backlog, piece, () => flushed(size));
    }
  }

  /**
   * Counts `chunk` against the app's Content-Length, cutting what goes past it. null when none
   * of it is sent (a HEAD response, or nothing left of it).
   */
  private counted(chunk: Buffer): Buffer | null {
    if (this.declared >= 0 && this.written + chunk.length > this.declared) {
      // More than the app's Content-Length: sending it would desynchronise the connection.
      this.log.warning(`app sent more than its Content-Length of ${this.declared}: truncated`);
      chunk = chunk.subarray(0, Math.max(0, this.declared - this.written));
    }
    this.written += chunk.length;
    if (this.isHead || chunk.length === 0) return null;
    this.bytes += chunk.length;
    return chunk;
  }

  /** The client keeps up: straight to the socket (which holds what it did not take: accepted either way). */
  private writeThrough(piece: Buffer): void {
    if (this.wire.write(piece)) return;
    if (!this.wire.corked) this.fallBehind();
    else if (!this.checkQueued) {
      // Both engines cork the socket for a while (node:http until the next tick, the lean
      // engine until the turn's end), so the pieces of a body handed on together leave in
      // one write, and write() answers false for any piece over 16 KiB whether or not the
      // socket would take it. Whether the client keeps up is known once that write was
      // made: this check is queued after both uncorks.
      this.checkQueued = true;
      setImmediate(this.checkSocket);
    }
  }

  /** The client is behind: the piece waits in the spool; `accepted` once the spool may hold it. */
  private spoolBehind(backlog: Op[], piece: Buffer, accepted: () => void): void {
    const budget = this.settings.budget;
    const spool = (this.spool ??= this.openSpool());
    if (budget !== undefined && !budget.admit(this, piece.length, spool.wouldSpill(piece.length))) {
      // This response was the one closed: its piece has nowhere to go, and the worker goes on.
      accepted();
      return;
    }
    const last = backlog[backlog.length - 1];
    if (last?.kind === 'bytes') last.n += piece.length;
    else backlog.push({ kind: 'bytes', n: piece.length });
    spool.append(piece, () => {
      if (spool.unread <= this.settings.memory + this.settings.maxFile) accepted();
      else this.held.push(accepted);
    });
    this.pump();
  }

  private openSpool(): Spool {
    const budget = this.settings.budget;
    budget?.join(this);
    return new Spool({
      memory: this.settings.memory,
      dir: this.settings.maxFile > 0 ? this.settings.dir : null,
      account: budget,
      onError: this.spoolFailed,
    });
  }

  file(range: SinkFile): void {
    let length = range.length;
    if (this.declared >= 0) {
      const room = this.declared - this.written;
      length = length === WHOLE_FILE ? room : Math.min(length, room);
    }
    // A client already gone: opening the file would wait for a drain that never comes.
    if (this.finished || this.isHead || this.wire.gone || length === 0) {
      release(range);
      return;
    }
    // Counted now, so the Content-Length checks of what follows see it in order.
    if (length !== WHOLE_FILE) this.written += length;
    this.enqueue({ kind: 'file', range: { ...range, length } });
  }

  end(): void {
    if (this.finished) return;
    this.enqueue({ kind: 'end' });
  }

  /** `close`: the request itself was bad, so the connection cannot be trusted for another. */
  fail(error: HttpError, close = false): void {
    if (this.finished) return;
    this.enqueue({ kind: 'fail', error, close });
  }

  /** Runs `op` now unless output ahead of it still waits for the client. */
  private enqueue(op: Exclude<Op, { kind: 'bytes' }>): void {
    if (this.backlog !== null && (this.backlog.length > 0 || this.busy)) {
      this.backlog.push(op);
      return;
    }
    this.run(op);
  }

  private run(op: Exclude<Op, { kind: 'bytes' }>): void {
    if (op.kind === 'file') {
      this.busy = true;
      if (this.backlog === null) this.openBacklog();
      this.sendFile(op.range, () => {
        this.busy = false;
        this.pump();
      });
    } else if (op.kind === 'end') this.finish();
    else this.abandon(op.error, op.close);
  }

  /** After a tick's body writes went to the socket: left more than the high-water mark unsent? */
  private readonly checkSocket = (): void => {
    this.checkQueued = false;
    if (this.backlog === null && !this.finished && this.wire.behind()) this.fallBehind();
  };

  /** The socket is full: what comes next waits in the backlog until it drains. */
  private fallBehind(): void {
    this.log.debug('a client reads slower than its answer comes: the rest waits in Node (memory, then a temp file)');
    this.lastRead = performance.now();
    this.openBacklog();
    this.hookDrain();
  }

  private openBacklog(): void {
    this.backlog = [];
    this.wire.once('close', this.onClose);
  }

  private hookDrain(): void {
    if (this.drainHooked) return;
    this.drainHooked = true;
    this.wire.watch(this.sendWatch);
    this.wire.once('drain', this.onDrain);
  }

  private readonly onDrain = (): void => {
    this.drainHooked = false;
    this.lastRead = performance.now();
    this.pump();
  };

  /** Moves the backlog to the socket as fast as the client takes it. */
  private readonly pump = (): void => {
    const backlog = this.backlog;
    if (backlog === null || this.busy) return;
    while (backlog.length > 0) {
      if (this.wire.needsDrain) {
        this.hookDrain();
        return;
      }
      const op = backlog[0] as Op;
      if (op.kind !== 'bytes') {
        backlog.shift();
        this.run(op);
        if (this.busy || this.backlog === null) return;
        continue;
      }
      if (op.n === 0) {
        backlog.shift();
        continue;
      }
      const spool = this.spool as Spool;
      const chunk = spool.shiftMemory(op.n);
      if (chunk) {
        op.n -= chunk.length;
        this.wire.write(chunk);
        this.releaseCredits(spool);
        continue;
      }
      this.busy = true;
      spool.read(Math.min(op.n, FILE_READ), (err, data) => {
        this.busy = false;
        // An error was reported by onError; null means the spool was destroyed (client gone).
        if (err || data === null || this.backlog === null) return;
        op.n -= data.length;
        this.wire.write(data);
        this.releaseCredits(spool);
        this.pump();
      });
      return;
    }
    if (this.wire.needsDrain) {
      this.hookDrain();
      return;
    }
    // Caught up: back to writing straight through.
    this.backlog = null;
    this.wire.off('close', this.onClose);
  };

  private releaseCredits(spool: Spool): void {
    while (this.held.length > 0 && spool.unread <= this.settings.memory + this.settings.maxFile) (this.held.shift() as () => void)();
  }

  private sendFile(range: SinkFile, done: () => void): void {
    streamFile(this.wire, range, this.sendWatch, (n) => (this.bytes += n), (sent, err) => {
      if (err) {
        this.log.error(`cannot send the file ${range.path}: ${err.message}`);
        this.wire.destroy();
      }
      if (range.length === WHOLE_FILE) this.written += sent;
      else if (sent < range.length && !err) this.written -= range.length - sent;
      done();
    });
  }

  private finish(): void {
    if (this.finished) return;
    const tail = this.tail;
    this.tail = null;
    if (this.wire.gone) {
      // The client left mid-body: nothing to complete, and the app did nothing wrong.
      this.settle();
      return;
    }
    if (!this.isHead && this.declared >= 0 && this.written < this.declared) {
      // Fewer bytes than promised: the client would wait for the rest forever, so close.
      this.log.warning(`app sent ${this.written} of its Content-Length of ${this.declared}: connection closed`);
      if (tail) this.wire.write(tail);
      this.wire.abort();
    } else if (tail && tail.length <= ONE_WRITE) {
      this.wire.end(tail.toString('latin1'));
    } else {
      this.wire.end(tail ?? undefined);
    }
    this.settle();
  }

  /** Ends the exchange with an error: an error response if nothing was sent, else an abort. */
  private abandon(error: HttpError, close: boolean): void {
    if (this.finished) return;
    if (this.wire.headersSent || this.wire.gone) {
      this.wire.abort();
    } else {
      respondWithError(this.wire, error.status, close, this.echoed === null ? undefined : [this.echoed[1], this.echoed[2]]);
      this.status = error.status;
    }
    this.settle();
  }

  private readonly spoolFailed = (err: Error): void => {
    this.log.error(`cannot spool a response for a slow client: ${err.message}`);
    // The frontend sees the close and aborts the exchange, which stops the app.
    this.wire.destroy();
    this.onClose();
  };

  /** The connection is gone (or the response is done): nothing more will be sent. */
  private readonly onClose = (): void => {
    for (const op of this.backlog ?? []) if (op.kind === 'file') release(op.range);
    this.backlog = null;
    this.held = [];
    this.settle();
  };

  private settle(): void {
    this.finished = true;
    if (this.spool) {
      this.settings.budget?.leave(this);
      this.spool.destroy();
    }
  }
}
