/**
 * A request of the lean engine: what the front end, the checks and the body receiver read of
 * node:http's IncomingMessage. The body is a Readable fed by the parser; a push the stream
 * refuses stops reading the socket until the body is read on.
 */
import { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import type { H1Request } from '../engine';

export interface RequestOwner {
  readonly socket: Socket;
  /** The body's reader wants more: read the socket again. */
  readMore(): void;
}

export class LeanRequest extends Readable implements H1Request {
  /** The whole message, trailers included, has been parsed. */
  complete = false;
  rawTrailers: string[] = [];
  private fields: Record<string, string> | null = null;

  constructor(
    private readonly owner: RequestOwner,
    readonly method: string,
    readonly url: string,
    readonly httpVersionMajor: number,
    readonly httpVersionMinor: number,
    readonly rawHeaders: string[],
  ) {
    super();
  }

  get socket(): Socket {
    return this.owner.socket;
  }

  get httpVersion(): string {
    return `${this.httpVersionMajor}.${this.httpVersionMinor}`;
  }

  /** The fields by lower-case name, repeated ones joined with ", " (node:http's `headers`, built on first use). */
  get headers(): Record<string, string> {
    if (this.fields === null) {
      const fields: Record<string, string> = {};
      const raw = this.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const name = (raw[i] as string).toLowerCase();
        const had = fields[name];
        fields[name] = had === undefined ? (raw[i + 1] as string) : `${had}, ${raw[i + 1] as string}`;
      }
      this.fields = fields;
    }
    return this.fields;
  }

  override _read(): void {
    this.owner.readMore();
  }
}
