/**
 * A byte FIFO that holds what a slow party has not taken yet: in memory up to a threshold, then
 * in a temp file. Request bodies are spooled here before dispatch, and responses after the client
 * stops keeping up, so neither side ever waits on the other with a Python thread held.
 *
 * Memory bytes always come before file bytes: an append goes to memory only while the file holds
 * nothing unread, and the file is reused from offset 0 each time it has been read empty, so it
 * grows only as large as the backlog it holds at once.
 *
 * The temp file is unlinked as soon as it is open (as nginx does with its temp files): it has no
 * name while in use, so no exit path of this process (a crash, SIGKILL) can leave it behind. The
 * descriptor is closed by destroy(), only once no read or write on it is in flight (closing under
 * one would let the number be reused by another open and the I/O land in the wrong file).
 */
import { close, fstatSync, open, read, unlink, writev, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Past this many bytes waiting for the disk, append() asks the writer to pause (the socket then
 * holds the rest, in kernel memory). It bounds the memory many concurrent uploads hold for the
 * disk, for a little more CPU per upload (measured in bench/, see docs/perf-journal.md).
 */
const WRITE_HIGH_WATER = 256 * 1024;

/**
 * Totals across spools (the response budget, response/budget.ts): each spool adds what it holds
 * and takes it back as it is read or destroyed, a couple of integer adds where bytes move.
 */
export interface SpoolAccount {
  /** Bytes held in memory by every accounted spool. */
  memory: number;
  /** Bytes of disk their temp files take (each file's size: it is reused, never shrunk). */
  disk: number;
  /** Past this many memory bytes in all, an append goes to the temp file instead. */
  readonly memoryLimit: number;
}

export interface SpoolOptions {
  /** Bytes kept in memory before spilling to a file. */
  memory: number;
  /** Shared totals to keep up to date; none for a spool no budget covers. */
  account?: SpoolAccount;
  /** Where the temp file goes; null keeps everything in memory (the caller bounds it). */
  dir: string | null;
  /** Called once, when the first byte goes to a file. */
  onSpill?: () => void;
  /** Called once, when the temp file cannot be opened, written or read. */
  onError?: (error: Error) => void;
}

type ReadCallback = (error: Error | null, chunk: Buffer | null) => void;

/** The file's unread bytes, handed to a reader that opens the file itself (see Spool.lend). */
export interface SpoolLoan {
  fd: number;
  offset: number;
  length: number;
  /** The file's identity, for the borrower to check it opened this file. */
  dev: bigint;
  ino: bigint;
  /** Ends the loan: the descriptor may close again (at once, if the spool was destroyed meanwhile). */
  giveBack(): void;
}

export class Spool {
  /** Bytes appended and not yet read (memory, file and writes in flight). */
  unread = 0;
  /** Bytes appended in all. */
  total = 0;
  error: Error | null = null;

  private readonly mem: Buffer[] = [];
  private memHead = 0;
  private memBytes = 0;

  private fd = -1;
  private opening = false;
  private spilled = false;
  /** File offsets: bytes in [readPos, committed) can be read; [committed, end) are being written. */
  private readPos = 0;
  private committed = 0;
  private end = 0;
  /** The temp file's size: the furthest `end` has reached (what the disk holds for it). */
  private fileSize = 0;
  private queue: Buffer[] = [];
  private queueStored: Array<() => void> = [];
  private queuedBytes = 0;
  private writing = false;
  private reading = false;
  /** A read waiting for a write to commit. */
  private waiter: (() => void) | null = null;
  private drainWaiters: Array<() => void> = [];
  private destroyed = false;
  /** Loans not given back: the descriptor stays open for their borrowers. */
  private loans = 0;

  constructor(private readonly options: SpoolOptions) {}

  /** Whether any byte went to the temp file. */
  get spilledToFile(): boolean {
    return this.spilled;
  }

  /** Bytes held in memory, not yet read. */
  get memoryBytes(): number {
    return this.memBytes;
  }

  /** Bytes of disk the temp file takes. */
  get diskBytes(): number {
    return this.fileSize;
  }

  /** Whether an append of `size` bytes now would go to the temp file rather than memory. */
  wouldSpill(size: number): boolean {
    return !this.fitsInMemory(size);
  }

  private fitsInMemory(size: number): boolean {
    if (this.end !== this.readPos) return false;
    if (this.options.dir === null) return true;
    const account = this.options.account;
    return this.memBytes + size <= this.options.memory && (account === undefined || account.memory + size <= account.memoryLimit);
  }

  /** True while the bytes given to append() have not all reached memory or the disk. */
  get writesPending(): boolean {
    return this.end > this.committed;
  }

  /**
   * Adds bytes at the tail. `stored` runs once they are held (at once in memory, after the write
   * for the file). Returns false when the writer should pause until onDrain() calls back.
   */
  append(chunk: Buffer, stored?: () => void): boolean {
    if (this.destroyed || this.error) return false;
    const size = chunk.length;
    this.total += size;
    this.unread += size;
    const account = this.options.account;
    if (this.fitsInMemory(size)) {
      this.mem.push(chunk);
      this.memBytes += size;
      if (account) account.memory += size;
      stored?.();
      this.wake();
      return true;
    }
    if (!this.spilled) {
      this.spilled = true;
      this.options.onSpill?.();
    }
    this.end += size;
    if (this.end > this.fileSize) {
      if (account) account.disk += this.end - this.fileSize;
      this.fileSize = this.end;
    }
    this.queue.push(chunk);
    this.queuedBytes += size;
    this.queueStored.push(stored ?? noop);
    if (this.fd >= 0) this.flush();
    else if (!this.opening) this.openFile();
    return this.queuedBytes < WRITE_HIGH_WATER;
  }

  /** Calls back once the bytes waiting for the disk fell under the high-water mark. */
  onDrain(callback: () => void): void {
    if (this.queuedBytes < WRITE_HIGH_WATER || this.destroyed) callback();
    else this.drainWaiters.push(callback);
  }

  /** The next memory chunk (at most `max` bytes of it), or null when memory is empty. */
  shiftMemory(max: number): Buffer | null {
    if (this.memHead === this.mem.length) return null;
    let chunk = this.mem[this.memHead] as Buffer;
    if (chunk.length > max) {
      this.mem[this.memHead] = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    } else {
      this.mem[this.memHead++] = EMPTY;
      if (this.memHead === this.mem.length) {
        this.mem.length = 0;
        this.memHead = 0;
      }
    }
    this.memBytes -= chunk.length;
    if (this.options.account) this.options.account.memory -= chunk.length;
    this.unread -= chunk.length;
    return chunk;
  }

  /**
   * Reads the next bytes (memory first, then the file), waiting for a write in flight if need be.
   * Calls back with null when nothing is left and nothing is being written, or after destroy().
   * One read at a time: a second one while the first is in flight is a caller's bug.
   */
  read(max: number, callback: ReadCallback): void {
    if (this.reading || this.waiter) throw new Error('Spool.read: a read is already in flight');
    if (this.destroyed) return callback(null, null);
    if (this.error) return callback(this.error, null);
    const chunk = this.shiftMemory(max);
    if (chunk) return callback(null, chunk);
    if (this.readPos < this.committed) {
      const n = Math.min(max, this.committed - this.readPos);
      this.reading = true;
      read(this.fd, Buffer.allocUnsafe(n), 0, n, this.readPos, (err, bytesRead, buffer) => {
        this.reading = false;
        if (this.destroyed) {
          this.closeIfIdle();
          return callback(null, null);
        }
        if (err || bytesRead === 0) return callback(this.fail(err ?? new Error('temp file shorter than written')), null);
        this.readPos += bytesRead;
        this.unread -= bytesRead;
        // Read empty: start over at offset 0, so the file never outgrows the backlog.
        if (this.readPos === this.end) this.readPos = this.committed = this.end = 0;
        callback(null, bytesRead === n ? buffer : buffer.subarray(0, bytesRead));
      });
      return;
    }
    if (this.end > this.committed) {
      this.waiter = () => this.read(max, callback);
      return;
    }
    callback(null, null);
  }

  /**
   * Hands the file's unread bytes to a reader that opens the file itself (a worker, through
   * /proc/<pid>/fd), once every write has landed; memory must have been taken first. The bytes
   * count as read here. The borrower finds the file by its descriptor number, so the descriptor
   * stays open until the loan is given back, even past destroy(): closed earlier, the number
   * could name another request's file. Calls back with null when the file holds nothing unread,
   * and with an error when the file failed or the spool was destroyed first.
   */
  lend(callback: (error: Error | null, loan: SpoolLoan | null) => void): void {
    if (this.reading || this.waiter) throw new Error('Spool.lend: a read is already in flight');
    if (this.memHead !== this.mem.length) throw new Error('Spool.lend: memory bytes come first');
    if (this.destroyed) return callback(new Error('the spool was destroyed'), null);
    if (this.error) return callback(this.error, null);
    if (this.end > this.committed) {
      this.waiter = () => this.lend(callback);
      return;
    }
    if (this.readPos === this.committed) return callback(null, null);
    let stat: BigIntStats;
    try {
      stat = fstatSync(this.fd, { bigint: true });
    } catch (err) {
      return callback(this.fail(err as Error), null);
    }
    const offset = this.readPos;
    const length = this.committed - offset;
    this.readPos = this.committed;
    this.unread -= length;
    this.loans++;
    let out = true;
    callback(null, {
      fd: this.fd,
      offset,
      length,
      dev: stat.dev,
      ino: stat.ino,
      giveBack: () => {
        if (!out) return;
        out = false;
        this.loans--;
        if (this.destroyed) this.closeIfIdle();
      },
    });
  }

  /** Drops everything; closes (and so frees) the temp file once no I/O is in flight. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const account = this.options.account;
    if (account) {
      // The file's blocks go once its descriptor closes, at most one I/O later.
      account.memory -= this.memBytes;
      account.disk -= this.fileSize;
    }
    this.fileSize = 0;
    this.mem.length = 0;
    this.memBytes = 0;
    this.queue = [];
    this.queueStored = [];
    this.queuedBytes = 0;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
    for (const d of this.drainWaiters.splice(0)) d();
    this.closeIfIdle();
  }

  private openFile(): void {
    const dir = this.options.dir as string;
    const path = join(dir, `nodicorn-${process.pid}-${randomBytes(6).toString('hex')}`);
    this.opening = true;
    open(path, 'wx+', 0o600, (err, fd) => {
      this.opening = false;
      if (err) {
        this.fail(err);
        return;
      }
      this.fd = fd;
      // Nameless from now on: the file lives only as long as the descriptor.
      unlink(path, noop);
      if (this.destroyed) this.closeIfIdle();
      else this.flush();
    });
  }

  private flush(): void {
    if (this.writing || this.destroyed || this.queue.length === 0) return;
    const buffers = this.queue;
    const callbacks = this.queueStored;
    const size = this.queuedBytes;
    const position = this.committed;
    this.queue = [];
    this.queueStored = [];
    this.queuedBytes = 0;
    this.writing = true;
    this.writeAll(buffers, position, size, (err) => {
      this.writing = false;
      if (this.destroyed) {
        this.closeIfIdle();
        return;
      }
      if (err) {
        this.fail(err);
        return;
      }
      this.committed += size;
      for (const c of callbacks) c();
      if (this.queuedBytes < WRITE_HIGH_WATER) for (const d of this.drainWaiters.splice(0)) d();
      this.wake();
      this.flush();
    });
  }

  /** writev may write less than asked (a full disk, a signal): write the rest. */
  private writeAll(buffers: Buffer[], position: number, size: number, done: (err: Error | null) => void): void {
    writev(this.fd, buffers, position, (err, written) => {
      if (err) return done(err);
      if (written === size) return done(null);
      if (written === 0) return done(new Error('temp file write made no progress'));
      const rest = Buffer.concat(buffers).subarray(written);
      this.writeAll([rest], position + written, size - written, done);
    });
  }

  private fail(err: Error): Error {
    if (this.error) return this.error;
    this.error = err;
    this.options.onError?.(err);
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
    for (const d of this.drainWaiters.splice(0)) d();
    return err;
  }

  private wake(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = null;
    waiter();
  }

  private closeIfIdle(): void {
    if (this.fd < 0 || this.reading || this.writing || this.opening || this.loans > 0) return;
    const fd = this.fd;
    this.fd = -1;
    close(fd, noop);
  }
}

const EMPTY = Buffer.alloc(0);
function noop(): void {}
