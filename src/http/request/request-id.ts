/**
 * --request-id-header: each request carries an id the app, the response and the access log share.
 * The client's (or a front proxy's) id is kept when it is sane; otherwise, or without one, a new
 * one is made. Kept ids are bounded and visible ASCII without quotes, backslashes or commas, so a
 * client cannot put log syntax, a second id or a line break into anything that prints it.
 */
import { randomBytes } from 'node:crypto';
import type { Pairs } from '../../exchange';
import { environKey } from './environ';

/** The longest id kept from a request (Heroku's router keeps 20 to 200 characters). */
export const MAX_REQUEST_ID = 200;

/** Visible ASCII (0x21-0x7E) but `"`, `\` and `,` (a joined pair of headers is not one id). */
export function saneRequestId(value: string): boolean {
  if (value.length === 0 || value.length > MAX_REQUEST_ID) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x5c || c === 0x2c) return false;
  }
  return true;
}

export class RequestIds {
  /** The header's environ key: X-Request-ID → HTTP_X_REQUEST_ID. */
  readonly environKey: string;
  /**
   * A new id is this process's random prefix and a counter: unique across restarts and hosts by
   * the prefix's 72 random bits, and a string concatenation per request (crypto.randomUUID costs
   * several times more for no gain in uniqueness here).
   */
  private readonly prefix = randomBytes(9).toString('base64url') + '-';
  private counter = 0;

  constructor(readonly header: string) {
    const key = environKey(header);
    // The registry's parser refuses names WSGI cannot carry (an underscore).
    if (key === null) throw new Error(`request id header ${header} has no environ key`);
    this.environKey = key;
  }

  next(): string {
    return this.prefix + (++this.counter).toString(36);
  }

  /** The request's id, in its environ under the header's key: the client's when sane, else a new one. */
  assign(environ: Pairs): string {
    const key = this.environKey;
    for (const pair of environ) {
      if (pair[0] !== key) continue;
      if (!saneRequestId(pair[1])) pair[1] = this.next();
      return pair[1];
    }
    const id = this.next();
    environ.push([key, id]);
    return id;
  }
}
