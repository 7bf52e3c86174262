/**
 * The engine contract: what the front end, the request checks, the body receiver, the response
 * sink and the connection bookkeeping use of an HTTP/1.1 request and response, and nothing more.
 * Two engines serve it: the lean one (lean/, whose objects implement these interfaces) and
 * node:http (whose IncomingMessage and ServerResponse are checked against them below, at compile
 * time). HTTP/2 streams come as node:http2's compatibility objects, told apart by isH2Request and
 * isH2Response; what differs for them in a response lives in response/wire.ts.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import type { Readable } from 'node:stream';

/** An HTTP/1.x request: its head as parsed, and its body as a stream. */
export interface H1Request extends Readable {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  /** "1.1", "1.0". */
  readonly httpVersion: string;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  /** Fields by lower-case name, as node:http folds them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The head's fields as sent: [name, value, ...]. */
  readonly rawHeaders: string[];
  /** The chunked trailer section's fields, once the body is whole. */
  readonly rawTrailers: string[];
  /** The whole message, trailers included, has been parsed. */
  readonly complete: boolean;
  readonly socket: Socket;
}

/** An HTTP/1.x response: a head written once, then the body; 'drain', 'finish' and 'close' as a Writable's. */
export interface H1Response extends EventEmitter {
  statusCode: number;
  /** The connection stays open after this response; set false to close it afterwards. */
  shouldKeepAlive: boolean;
  /** writeHead was called (the head may still wait to go out with the first body piece). */
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  /** Everything was handed to the socket and it took it. */
  readonly writableFinished: boolean;
  readonly writableLength: number;
  readonly writableHighWaterMark: number;
  readonly writableNeedDrain: boolean;
  readonly socket: Socket | null;
  /** fields: [name, value, ...]; throws on what HTTP refuses (a bad name, CR or LF in a value). */
  writeHead(status: number, reason: string, fields: string[]): this;
  writeContinue(): void;
  write(chunk: Buffer | string, encoding?: BufferEncoding): boolean;
  end(chunk?: Buffer | string, encoding?: BufferEncoding): this;
  destroy(): this;
}

/** A type that compiles only when T has every member of Contract, with the same meaning for tsc. */
type Implements<T extends Contract, Contract> = T;
/** node:http's objects, checked against the contract at compile time (no cast anywhere uses them). */
export type NodeH1Request = Implements<IncomingMessage, H1Request>;
export type NodeH1Response = Implements<ServerResponse, H1Response>;

export type AnyRequest = H1Request | Http2ServerRequest;
export type AnyResponse = H1Response | Http2ServerResponse;

export function isH2Request(req: AnyRequest): req is Http2ServerRequest {
  return req instanceof Http2ServerRequest;
}

export function isH2Response(res: AnyResponse): res is Http2ServerResponse {
  return res instanceof Http2ServerResponse;
}

/** What the front end serves on: node:http, node:https, node:http2 and lean servers alike. */
export type FrontServer = NetServer & Pick<HttpServer, 'closeIdleConnections' | 'closeAllConnections'>;
