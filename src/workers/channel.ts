/**
 * One worker's protocol pipe: encodes requests onto it, batched once per event-loop turn, and
 * routes the frames coming back by request id to each exchange's response sink.
 */
import type { Duplex } from 'node:stream';
import { canHandOff, type BodyHandOff, type Exchange } from '../exchange';
import { HttpError } from '../errors';
import {
  ACK_UNIT,
  FrameReader,
  FrameType,
  HEADER_SIZE,
  RequestFlags,
  WINDOW,
  decodeCount,
  decodeFile,
  decodeJson,
  decodePaths,
  decodeResponseHead,
  encodeBodyFile,
  encodeCount,
  encodeFrame,
  encodeRequest,
  writeHeader,
  type Frame,
} from '../protocol/frames';
import { StreamTable } from './stream-table';

/** Up to this many queued bytes are joined into one write; past it they leave as one writev. */
const JOIN_LIMIT = 64 * 1024;

/** What the app raised, as the worker reports it. */
export interface AppError {
  type: string;
  message: string;
  traceback: string;
}

/** A request on its way through this worker. */
interface Stream {
  id: number;
  exchange: Exchange;
  startedAt: number;
  /** Order of dispatch on this channel (ids reuse slots, so they do not tell). */
  seq: number;
  /** Request body bytes sent and not yet acknowledged by the worker. */
  bodyInFlight: number;
  bodyPaused: boolean;
  /** Response bytes flushed to the client and not yet acknowledged to the worker. */
  flushedUnacked: number;
  /** Why the request ended early, if Node ended it (timeout, worker death). */
  ended: boolean;
  /** A body handed off whole: its temp file stays open until the request is over. */
  handOff: BodyHandOff | null;
}

/** What a worker says about itself in READY. */
export interface WorkerInfo {
  pid: number;
  python: string;
  threads: number;
  /** It can open Node's spooled temp files itself (/proc/<pid>/fd, Linux): see BODY_FILE. */
  body_files?: boolean;
}

export interface ChannelEvents {
  ready(info: WorkerInfo): void;
  bootError(error: AppError): void;
  /** Source files the worker loaded (MODULES, --reload). */
  modules(files: string[]): void;
  appError(error: AppError, exchange: Exchange): void;
  /** A request finished (END or ERROR): its thread is free again. */
  released(): void;
  protocolError(error: Error): void;
}

export class Channel {
  // Response bodies pass through in pieces as read: no join, no copy.
  private readonly reader = new FrameReader(new Set([FrameType.RESPONSE_BODY]));
  private readonly streams = new StreamTable<Stream>();
  private outbox: Buffer[] = [];
  private outboxBytes = 0;
  private flushScheduled = false;
  private closed = false;
  private dispatched = 0;
  /** The worker said it opens spooled bodies itself. */
  private bodyFiles = false;

  /** `pipe` carries frames to the worker; `from` carries them back (the same pipe on Unix). */
  constructor(
    private readonly pipe: Duplex,
    from: Duplex,
    private readonly events: ChannelEvents,
  ) {
    from.on('data', (chunk: Buffer) => this.receive(chunk));
    // EPIPE after the worker died is reported by its exit, not here.
    pipe.on('error', () => {});
    from.on('error', () => {});
  }

  get inflight(): number {
    return this.streams.size;
  }

  /** performance.now() at which the oldest running request started, or Infinity. */
  oldestStart(): number {
    let oldest = Infinity;
    for (const s of this.streams.values()) if (!s.ended && s.startedAt < oldest) oldest = s.startedAt;
    return oldest;
  }

  /** The requests still running, oldest first. */
  running(): Exchange[] {
    return this.streams.values().filter((s) => !s.ended).sort((a, b) => a.seq - b.seq).map((s) => s.exchange);
  }

  start(exchange: Exchange, now: number): void {
    const stream = this.streams.add({ id: 0, exchange, startedAt: now, seq: this.dispatched++, bodyInFlight: 0, bodyPaused: false, flushedUnacked: 0, ended: false, handOff: null });
    const id = stream.id;
    this.send(encodeRequest(id, exchange.flags, exchange.environ));
    exchange.onAbort(() => {
      if (this.streams.get(id) === stream) this.send(encodeFrame(FrameType.ABORT, id));
    });
    // With Expect: 100-continue the client holds the body until the app asks for it (CONTINUE).
    if (exchange.body && !(exchange.flags & RequestFlags.EXPECT_CONTINUE)) this.pumpBody(stream);
  }

  /**
   * Ends every request still on this worker (it died or was killed), oldest first. `errorFor`
   * chooses each one's answer, e.g. 504 for the one that timed out and 502 for the rest.
   * `replay`, when given, may take a request back instead (see Worker.failAll); it returns
   * false for one it cannot send elsewhere.
   */
  failAll(errorFor: (startedAt: number) => HttpError, replay?: (exchange: Exchange, position: number) => boolean): void {
    const streams = this.streams.takeAll().sort((a, b) => a.seq - b.seq);
    streams.forEach((s, position) => {
      s.ended = true;
      s.handOff?.release();
      if (replay?.(s.exchange, position)) return;
      s.exchange.body?.pause();
      s.exchange.sink.fail(errorFor(s.startedAt));
    });
  }

  /** Closes the pipe: the worker reads EOF and exits. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.pipe.end();
  }

  private send(frame: Buffer): void {
    if (this.closed) return;
    this.outbox.push(frame);
    this.outboxBytes += frame.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // setImmediate runs after this turn's I/O callbacks: requests that arrived together
      // leave in one write, and the worker reads them with one read.
      setImmediate(this.flush);
    }
  }

  /** A frame whose payload is sent where it lies (a body chunk): no copy into a frame. */
  private sendWithPayload(type: number, id: number, payload: Buffer): void {
    const header = Buffer.allocUnsafe(HEADER_SIZE);
    writeHeader(header, 0, type, id, payload.length);
    this.send(header);
    if (payload.length > 0) this.send(payload);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const out = this.outbox;
    if (out.length === 0 || this.closed) return;
    const bytes = this.outboxBytes;
    this.outbox = [];
    this.outboxBytes = 0;
    if (out.length === 1) this.pipe.write(out[0] as Buffer);
    else if (bytes <= JOIN_LIMIT) this.pipe.write(Buffer.concat(out, bytes));
    else {
      // Big bodies: one writev over the pieces instead of copying them into one buffer.
      this.pipe.cork();
      for (const b of out) this.pipe.write(b);
      this.pipe.uncork();
    }
  };

  private pumpBody(stream: Stream): void {
    const body = stream.exchange.body;
    if (!body) return;
    const id = stream.id;
    // A spooled body skips the pipe: the worker reads the temp file itself. Memory bytes up to
    // one window still go as BODY frames, since they are not in the file.
    if (this.bodyFiles && canHandOff(body)) {
      const taken = body.handOff(WINDOW, (error, handOff) => {
        // An error: whoever failed or destroyed the body also ended the exchange.
        if (error || !handOff) return;
        if (stream.ended) {
          handOff.release();
          return;
        }
        stream.handOff = handOff;
        for (const chunk of handOff.chunks) this.sendWithPayload(FrameType.BODY, id, chunk);
        if (handOff.file) this.send(encodeBodyFile(id, handOff.file));
        this.send(encodeFrame(FrameType.BODY_END, id));
      });
      if (taken) return;
    }
    body.on('data', (chunk: Buffer) => {
      if (stream.ended) return;
      this.sendWithPayload(FrameType.BODY, id, chunk);
      stream.bodyInFlight += chunk.length;
      if (stream.bodyInFlight >= WINDOW) {
        stream.bodyPaused = true;
        body.pause();
      }
    });
    body.once('end', () => {
      if (!stream.ended) this.send(encodeFrame(FrameType.BODY_END, id));
    });
    body.resume();
  }

  private receive(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.events.protocolError(err as Error);
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i] as Frame;
      const next = frames[i + 1];
      try {
        this.handle(frame, next !== undefined && next.type === FrameType.END && next.id === frame.id);
      } catch (err) {
        this.events.protocolError(err as Error);
        return;
      }
    }
  }

  /** `endsNext`: the frame after this one, in the same read, is this request's END. */
  private handle(frame: Frame, endsNext: boolean): void {
    const { type, id, payload } = frame;
    if (id === 0) {
      if (type === FrameType.READY) {
        const info = decodeJson(payload) as WorkerInfo;
        this.bodyFiles = info.body_files === true;
        this.events.ready(info);
      }
      else if (type === FrameType.BOOT_ERROR) this.events.bootError(decodeJson(payload) as AppError);
      else if (type === FrameType.MODULES) this.events.modules(decodePaths(payload));
      else throw new Error(`unexpected frame type ${type} for id 0`);
      return;
    }
    const stream = this.streams.get(id);
    // Frames for a request Node already ended (timed out, failed) are dropped.
    if (!stream) return;
    const sink = stream.exchange.sink;
    switch (type) {
      case FrameType.RESPONSE_HEAD: {
        const head = decodeResponseHead(payload);
        sink.head(head.status, head.reason, head.headers);
        break;
      }
      case FrameType.RESPONSE_BODY:
        sink.body(payload, (n) => this.acknowledge(stream, n), endsNext);
        break;
      case FrameType.FILE:
        sink.file(decodeFile(payload));
        break;
      case FrameType.END:
        this.finish(stream);
        sink.end();
        break;
      case FrameType.ERROR: {
        this.finish(stream);
        this.events.appError(decodeJson(payload) as AppError, stream.exchange);
        sink.fail(new HttpError(500, 'ERR_APP', 'the application raised an exception'));
        break;
      }
      case FrameType.CONTINUE:
        sink.sendContinue();
        this.pumpBody(stream);
        break;
      case FrameType.BODY_CREDIT:
        stream.bodyInFlight -= decodeCount(payload);
        if (stream.bodyPaused && stream.bodyInFlight < WINDOW) {
          stream.bodyPaused = false;
          stream.exchange.body?.resume();
        }
        break;
      default:
        throw new Error(`unexpected frame type ${type}`);
    }
  }

  private acknowledge(stream: Stream, n: number): void {
    if (stream.ended) return;
    stream.flushedUnacked += n;
    if (stream.flushedUnacked >= ACK_UNIT) {
      this.send(encodeCount(FrameType.CREDIT, stream.id, stream.flushedUnacked));
      stream.flushedUnacked = 0;
    }
  }

  private finish(stream: Stream): void {
    stream.ended = true;
    this.streams.delete(stream);
    stream.handOff?.release();
    // A body the app never read must not keep arriving, nor keep the stream alive.
    const body = stream.exchange.body;
    if (body && !body.readableEnded) {
      body.removeAllListeners('data');
      body.resume();
    }
    this.events.released();
  }
}
