/**
 * A file for the response sink to send: a worker's (file_wrapper), by path, or one Node already
 * opened and checked (a --static-map file), whose `fd` the sink then owns: it reads it and
 * closes it, or closes it unread (HEAD, a client gone, a dropped backlog).
 */
import { close, createReadStream } from 'node:fs';
import { WHOLE_FILE, type FileRange } from '../../protocol/frames';
import type { SendWatch } from './send-watch';
import type { Wire } from './wire';

export type SinkFile = FileRange & { fd?: number };

/** Closes a file the sink was given open and will not send. */
export function release(file: SinkFile): void {
  if (file.fd !== undefined) close(file.fd, () => {});
}

/**
 * Sends `range` of a file onto `wire` at the client's pace (reads pause while the socket is
 * full). `sent` counts each chunk as it goes; `done` gets the bytes sent and the read error, if
 * any. The read stops when the wire closes.
 */
export function streamFile(wire: Wire, range: SinkFile, watch: SendWatch, sent: (n: number) => void, done: (total: number, err?: Error) => void): void {
  const length = range.length;
  const stream = createReadStream(range.path, {
    fd: range.fd,
    start: range.offset,
    end: length === WHOLE_FILE ? undefined : range.offset + length - 1,
    highWaterMark: 256 * 1024,
  });
  let total = 0;
  stream.on('data', (chunk) => {
    const buf = chunk as Buffer;
    total += buf.length;
    sent(buf.length);
    if (!wire.write(buf)) {
      wire.watch(watch);
      stream.pause();
      wire.once('drain', () => stream.resume());
    }
  });
  stream.once('end', () => done(total));
  stream.once('error', (err) => done(total, err));
  wire.once('close', () => stream.destroy());
}
