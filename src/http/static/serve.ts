/**
 * Serves --static-map files from Node, before a request is dispatched: GET and HEAD without a
 * body only, under a mount. A hostile path is answered 404; a miss or a directory falls through
 * to the app. The file goes through the response sink like a worker's file_wrapper file, so it
 * streams from disk at the client's pace (--send-timeout and backpressure included) and is
 * access-logged like any request.
 */
import { close, type Stats } from 'node:fs';
import type { Pairs } from '../../exchange';
import { HttpError } from '../../errors';
import type { Logger } from '../../log/logger';
import type { AnyRequest } from '../engine';
import type { HttpResponseSink } from '../response/sink';
import { contentTypeOf } from './mime';
import { openInside, StaticMounts, type OpenFile, type StaticMapping } from './mounts';
import { acceptedCodings, notModified, parseRange, rangeStillValid, validatorsOf, type Coding } from './negotiate';

export interface StaticOptions {
  mappings: readonly StaticMapping[];
  /** --static-max-age in seconds. */
  maxAge: number;
  cwd: string;
}

/** A representation chosen for the request: the file itself, or a precompressed sibling (open). */
interface Chosen {
  fd: number;
  path: string;
  stats: Stats;
  coding: Coding | null;
  /** The file's own type, whatever its coding. */
  contentType: string;
}

export class StaticFiles {
  private readonly mounts: StaticMounts;
  private readonly cacheControl: string;

  constructor(
    options: StaticOptions,
    private readonly log: Logger,
  ) {
    this.mounts = new StaticMounts(options.mappings, options.cwd);
    this.cacheControl = `public, max-age=${Math.floor(options.maxAge)}`;
  }

  /**
   * Answers the request from a mount; false (at once, or resolved once the file is looked up)
   * when it is the app's to answer: not a GET or HEAD, under no mount, a miss, a directory.
   */
  serve(req: AnyRequest, sink: HttpResponseSink): Promise<boolean> | false {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const target = req.url ?? '';
    if (!target.startsWith('/')) return false;
    const end = target.search(/[?#]/);
    const located = this.mounts.locate(end < 0 ? target : target.slice(0, end));
    if (located.kind === 'none') return false;
    if (located.kind === 'refused') {
      this.refuse(req, sink, located.why);
      return Promise.resolve(true);
    }
    return this.lookup(req, sink, located.root, located.path);
  }

  private async lookup(req: AnyRequest, sink: HttpResponseSink, root: string, path: string): Promise<boolean> {
    const found = await openInside(root, path);
    if (found === 'outside') {
      this.refuse(req, sink, 'a symlink out of its directory');
      return true;
    }
    if (found === null) return false;
    const chosen = await this.representation(req, root, found);
    this.answer(req, sink, chosen);
    return true;
  }

  /** The first precompressed sibling the client accepts, else the file. */
  private async representation(req: AnyRequest, root: string, file: OpenFile): Promise<Chosen> {
    const contentType = contentTypeOf(file.path);
    for (const coding of acceptedCodings(header(req, 'accept-encoding'))) {
      const sibling = await openInside(root, file.path + coding.suffix);
      if (sibling !== null && sibling !== 'outside') {
        close(file.fd, () => {});
        return { ...sibling, coding, contentType };
      }
    }
    return { ...file, coding: null, contentType };
  }

  private answer(req: AnyRequest, sink: HttpResponseSink, chosen: Chosen): void {
    const { stats } = chosen;
    const v = validatorsOf(stats.size, stats.mtimeMs);
    const fields: Pairs = [
      ['ETag', v.etag],
      ['Last-Modified', v.lastModified],
      ['Cache-Control', this.cacheControl],
      // Over-varying is harmless; under-varying would let a cache hand gzip to a client without it.
      ['Vary', 'Accept-Encoding'],
    ];
    if (notModified(v, header(req, 'if-none-match'), header(req, 'if-modified-since'))) {
      close(chosen.fd, () => {});
      sink.head(304, 'Not Modified', fields);
      sink.end();
      return;
    }
    fields.push(['Content-Type', chosen.contentType], ['X-Content-Type-Options', 'nosniff'], ['Accept-Ranges', 'bytes']);
    if (chosen.coding) fields.push(['Content-Encoding', chosen.coding.coding]);
    const range = rangeStillValid(v, header(req, 'if-range')) ? parseRange(header(req, 'range'), stats.size) : ({ kind: 'whole' } as const);
    if (range.kind === 'unsatisfiable') {
      close(chosen.fd, () => {});
      fields.push(['Content-Range', `bytes */${stats.size}`], ['Content-Length', '0']);
      sink.head(416, 'Range Not Satisfiable', fields);
      sink.end();
      return;
    }
    const start = range.kind === 'part' ? range.start : 0;
    const length = range.kind === 'part' ? range.end - range.start + 1 : stats.size;
    if (range.kind === 'part') fields.push(['Content-Range', `bytes ${range.start}-${range.end}/${stats.size}`]);
    fields.push(['Content-Length', String(length)]);
    sink.head(range.kind === 'part' ? 206 : 200, range.kind === 'part' ? 'Partial Content' : 'OK', fields);
    // The sink owns the fd from here: it reads and closes it, or closes it (HEAD, a client gone).
    sink.file({ path: chosen.path, fd: chosen.fd, offset: start, length });
    sink.end();
  }

  private refuse(req: AnyRequest, sink: HttpResponseSink, why: string): void {
    this.log.debug(`static: 404 for ${req.method} ${req.url}: ${why}`);
    sink.fail(new HttpError(404, 'ERR_STATIC_PATH', why));
  }
}

function header(req: AnyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
