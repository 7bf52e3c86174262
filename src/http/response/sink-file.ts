/**
 * A file for the response sink to send: a worker's (file_wrapper), by path, or one Node already
 * opened and checked (a --static-map file), whose `fd` the sink then owns: it reads it and
 * closes it, or closes it unread (HEAD, a client gone, a dropped backlog).
 */
import { close } from 'node:fs';
import type { FileRange } from '../../protocol/frames';

export type SinkFile = FileRange & { fd?: number };

/** Closes a file the sink was given open and will not send. */
export function release(file: SinkFile): void {
  if (file.fd !== undefined) close(file.fd, () => {});
}
