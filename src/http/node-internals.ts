/**
 * Every use of Node's internals, in one place and behind one version guard:
 *
 * - `_http_common`'s llhttp binding, the parser node:http runs on, for the lean engine. Taken
 *   only from the Node majors it was checked on and only when every member the engine calls is
 *   there; otherwise `llhttp()` is null and the front end serves through node:http.
 * - A socket's libuv handle (`socket._handle`): handed to the parser to read from directly,
 *   paused and resumed under it, and asked how much of a write the kernel has not taken yet.
 * - `socket.destroySoon()`, which node:http calls to close a connection after its last response.
 * - A listening server's file descriptor (`server._handle.fd`), handed to the new master on USR2.
 *   Not behind the guard: every Node since 0.x has it, and without it USR2 only logs an error.
 * - A socket received over an IPC channel reads at once, and `pause()` only stops the stream's
 *   flow: `stopReading` stops its handle, so a socket the master passes on (--frontends) has read
 *   nothing that would be lost with it. Not behind the guard: node:net's own pause does the same.
 * - The handle a ChildProcess sent and waits to hear received (`_pendingMessage`): node closes
 *   it on that ack, or when the channel disconnects, which it puts off while an ack is due, so
 *   for a child killed before it acked, never. `closeUnackedHandle` closes it (the connection
 *   gets its FIN instead of hanging open in the master). Absent members read as nothing to close.
 * - `net._createServerHandle`, node:cluster's own way to bind a socket in one process without
 *   accepting on it there, for the master of several front ends (`bindListenHandle`). Not behind
 *   the guard either: node:cluster needs it on every Node; without it --frontends 1 still serves.
 * - Undocumented links between objects: the socket a TLSSocket wraps (`_parent`), the server
 *   that accepted a socket (`server`), and node:http's connection tracking on a node:http2
 *   server that serves HTTP/1.1 too.
 *
 * On a Node major not in CHECKED_MAJORS the binding and a socket's handle are never touched:
 * the lean engine is off (no binding), and --send-timeout sees progress by the stream's own
 * counters only. The rest has been stable for many majors and is read defensively (a missing
 * member reads as absent), since node:http and node:tls depend on it themselves.
 */
import { Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import type { Server, Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

/** The parser's callback slots: indices into the parser object (the binding's kOn* constants). */
export interface ParserSlots {
  /** Called as each message's first byte is parsed: where its head timeout starts. */
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}

/** What a parse error from the binding carries. */
export interface ParseError extends Error {
  code: string;
  bytesParsed: number;
  reason?: string;
}

export interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  /** Reads straight from the socket's libuv stream in C++; results come through kOnExecute. */
  consume(handle: unknown): void;
  unconsume(): void;
  execute(data: Buffer): number | ParseError;
  /** The peer's end of input: an error if a message was cut short. */
  finish(): number | ParseError | undefined;
  getCurrentBuffer(): Buffer;
  close(): void;
  [slot: number]: unknown;
}

export interface Llhttp extends ParserSlots {
  create(): LlhttpParser;
  REQUEST: number;
  /** llhttp's method codes to names (a code missing here is refused). */
  methods: readonly string[];
}

/**
 * The Node majors whose binding was read and tested (node:http's own calls are the model): the
 * lean engine's parity unit test and the black-box suite pass on each (test/node-versions.sh).
 * Their bindings agree on every member used here; a parser's own head clock (`duration()`,
 * `headersCompleted()`) is Node 20's only, so the head timeout is kept from kOnMessageBegin.
 */
const CHECKED_MAJORS = [20, 22, 24, 26];

/** RTSP's methods, which llhttp also parses (with an RTSP/1.0 version); node:http names them too. */
const RTSP_METHODS = ['DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN', 'GET_PARAMETER', 'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH'];

type ParserClass = (new () => LlhttpParser) & Record<string, number>;

/**
 * llhttp reports a method as its code. node:http names it from the binding's `allMethods`, which
 * only process.binding reaches (with a deprecation warning); the table is rebuilt here instead,
 * by parsing one request line per known method name and noting the code llhttp gives it.
 */
function methodTable(Parser: ParserClass, names: readonly string[]): string[] {
  const table: string[] = [];
  const parser = new Parser();
  let code = -1;
  parser[Parser.kOnHeaders as number] = () => {};
  parser[Parser.kOnHeadersComplete as number] = (_major: number, _minor: number, _fields: unknown, method: number) => {
    code = method;
    return 0;
  };
  parser[Parser.kOnBody as number] = () => {};
  parser[Parser.kOnMessageComplete as number] = () => {};
  for (const name of names) {
    for (const version of ['HTTP/1.1', 'RTSP/1.0']) {
      code = -1;
      parser.initialize(Parser.REQUEST as number, {}, 0, 0);
      parser.execute(Buffer.from(`${name} / ${version}\r\nHost: x\r\n\r\n`, 'latin1'));
      if (code >= 0) {
        table[code] = name;
        break;
      }
    }
  }
  parser.close();
  return table;
}

/** This Node's internals are the ones read and tested here. */
const CHECKED = CHECKED_MAJORS.includes(Number(process.versions.node.split('.')[0]));

function load(): Llhttp | null {
  if (!CHECKED) return null;
  try {
    const common = createRequire(__filename)('_http_common') as { HTTPParser?: ParserClass; methods?: string[] };
    const Parser = common.HTTPParser;
    if (typeof Parser !== 'function' || !Array.isArray(common.methods)) return null;
    const slots = ['kOnMessageBegin', 'kOnHeaders', 'kOnHeadersComplete', 'kOnBody', 'kOnMessageComplete', 'kOnExecute'] as const;
    if (slots.some((k) => typeof Parser[k] !== 'number') || typeof Parser.REQUEST !== 'number') return null;
    const proto = Parser.prototype as unknown as Record<string, unknown>;
    const calls = ['initialize', 'consume', 'unconsume', 'execute', 'finish', 'getCurrentBuffer', 'close'];
    if (calls.some((m) => typeof proto[m] !== 'function')) return null;
    const methods = methodTable(Parser, [...common.methods, ...RTSP_METHODS]);
    if (methods[1] !== 'GET' || methods[3] !== 'POST') return null;
    return {
      create: () => new Parser(),
      REQUEST: Parser.REQUEST,
      methods,
      kOnMessageBegin: Parser.kOnMessageBegin as number,
      kOnHeaders: Parser.kOnHeaders as number,
      kOnHeadersComplete: Parser.kOnHeadersComplete as number,
      kOnBody: Parser.kOnBody as number,
      kOnMessageComplete: Parser.kOnMessageComplete as number,
      kOnExecute: Parser.kOnExecute as number,
    };
  } catch {
    return null;
  }
}

let loaded: Llhttp | null | undefined;
/** The binding, loaded on first use (only the lean engine needs it); null where it is not usable. */
export function llhttp(): Llhttp | null {
  if (loaded === undefined) loaded = load();
  return loaded;
}

/** What the code here uses of a socket's libuv stream handle. */
interface StreamHandle {
  isStreamBase?: boolean;
  _consumed?: boolean;
  reading?: boolean;
  readStart?(): number;
  readStop?(): number;
  /** Bytes a write has not handed to the kernel yet (moves on partial writes). */
  writeQueueSize?: number;
}

function handleOf(socket: Socket): StreamHandle | null {
  if (!CHECKED) return null;
  const handle: unknown = Reflect.get(socket, '_handle');
  return typeof handle === 'object' ? (handle as StreamHandle | null) : null;
}

/** A socket's stream read by the parser in C++, which pausing the socket alone does not stop. */
export interface ConsumedStream {
  stop(): void;
  start(): void;
}

/**
 * Hands `socket`'s stream to `parser` (node:http's `consume`): its reads go to llhttp without a
 * JavaScript 'data' event each. null when the socket's handle cannot be consumed (a TLS socket's
 * plaintext, a handle someone consumed already): feed the parser from 'data' then.
 */
export function consumeSocket(socket: Socket, parser: LlhttpParser): ConsumedStream | null {
  const handle = handleOf(socket);
  if (!handle?.isStreamBase || handle._consumed) return null;
  handle._consumed = true;
  parser.consume(handle);
  // Looked up again each time: a closed socket has dropped its handle, and nothing is left to stop.
  const live = (): StreamHandle | null => {
    const now = handleOf(socket);
    return now === handle && typeof now.readStart === 'function' && typeof now.readStop === 'function' ? now : null;
  };
  return {
    stop() {
      const h = live();
      if (h === null) return;
      h.reading = false;
      h.readStop?.();
    },
    start() {
      const h = live();
      if (h === null) return;
      h.reading = true;
      h.readStart?.();
    },
  };
}

/** Bytes written to `socket` that the kernel has not taken yet, beyond its stream buffer; '' when unknown. */
export function unsentInHandle(socket: Socket): number | '' {
  return handleOf(socket)?.writeQueueSize ?? '';
}

/** Makes node:http's close after a connection's last response call `close` instead of destroySoon's own. */
export function onDestroySoon(socket: Socket, close: () => void): void {
  Reflect.set(socket, 'destroySoon', close);
}

/** Ends `socket` once what it holds has gone (node:http's way to close after a last response). */
export function destroySoon(socket: Socket): void {
  const method: unknown = Reflect.get(socket, 'destroySoon');
  if (typeof method === 'function') method.call(socket);
  else socket.end();
}

/** The file descriptor `server` listens on (Unix), or null when it has none. */
export function listenerFd(server: Server): number | null {
  const handle: unknown = Reflect.get(server, '_handle');
  const fd: unknown = typeof handle === 'object' && handle !== null ? Reflect.get(handle, 'fd') : undefined;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/** The socket `wrapper` wraps: a TLSSocket's raw socket (node:tls's `_parent`); undefined for a raw one. */
export function wrappedSocket(wrapper: object): unknown {
  return Reflect.get(wrapper, '_parent');
}

/** Whether the server that accepted `socket` listens on a UNIX socket (net.Server sets `socket.server`). */
export function acceptedOnUnixSocket(socket: Socket): boolean {
  const server: unknown = Reflect.get(socket, 'server');
  if (typeof server !== 'object' || server === null) return false;
  const address: unknown = Reflect.get(server, 'address');
  return typeof address === 'function' && typeof address.call(server) === 'string';
}

/**
 * Closes the HTTP/1.1 connections a node:http2 server with allowHTTP1 serves: node:http2 hands
 * them to node:http's connection code, which tracks them on that server, so node:http's methods
 * find them there. `idle`: only those waiting for a request.
 */
export function closeHttp1Connections(server: Server, which: 'idle' | 'all'): void {
  const close = which === 'idle' ? HttpServer.prototype.closeIdleConnections : HttpServer.prototype.closeAllConnections;
  Reflect.apply(close, server, []);
}

/** A listening socket's libuv handle, bound and not accepting: passed to processes that accept. */
export interface ListenHandle {
  readonly fd?: number;
  close(): void;
}

/** Where a bound socket is: a TCP one's address, or its unix path / fd. */
export type HandleTarget = { kind: 'tcp'; host: string; port: number; ipv6Only: boolean; reusePort: boolean } | { kind: 'unix'; path: string } | { kind: 'fd'; fd: number };

type CreateServerHandle = (address: string | null, port: number, addressType: number, fd?: number, flags?: number) => ListenHandle | number;

/** libuv's uv_tcp_flags. */
const UV_TCP_IPV6ONLY = 1;
const UV_TCP_REUSEPORT = 2;

/**
 * Binds `target` without listening: the processes the handle is sent to call listen() and
 * accept, the one that made it never does. Throws with the system's error code.
 */
export function bindListenHandle(target: HandleTarget): ListenHandle {
  const create: unknown = Reflect.get(net, '_createServerHandle');
  if (typeof create !== 'function') throw new Error(`Node ${process.versions.node} has no net._createServerHandle`);
  const make = create as CreateServerHandle;
  let made: ListenHandle | number;
  // An fd takes port 0: node:net asserts that neither an address nor a port comes with one.
  if (target.kind === 'fd') made = make(null, 0, 0, target.fd);
  else if (target.kind === 'unix') made = make(target.path, -1, -1);
  else {
    const flags = (target.ipv6Only ? UV_TCP_IPV6ONLY : 0) | (target.reusePort ? UV_TCP_REUSEPORT : 0);
    made = make(target.host, target.port, net.isIPv6(target.host) ? 6 : 4, undefined, flags);
  }
  if (typeof made === 'number') {
    const err = new Error(getSystemErrorName(made)) as NodeJS.ErrnoException;
    err.code = getSystemErrorName(made);
    throw err;
  }
  return made;
}

/** The port a bound TCP handle got (port 0 resolved), or null for another kind. */
export function handlePort(handle: ListenHandle): number | null {
  const getsockname: unknown = Reflect.get(handle, 'getsockname');
  if (typeof getsockname !== 'function') return null;
  const out: { port?: number } = {};
  return getsockname.call(handle, out) === 0 && typeof out.port === 'number' ? out.port : null;
}

/** Whether a handle received from another process is a TCP socket's (not a unix socket's). */
export function isTcpHandle(handle: ListenHandle): boolean {
  return handle.constructor?.name === 'TCP';
}

/**
 * Stops a socket's handle reading (as `pauseOnConnect` leaves an accepted one); `resume()`
 * starts it again. A socket without a handle, or not reading, is left as it is.
 */
export function stopReading(socket: Socket): void {
  const handle = Reflect.get(socket, '_handle') as { reading?: boolean; readStop?: () => number } | null;
  if (!handle?.reading || typeof handle.readStop !== 'function') return;
  handle.reading = false;
  handle.readStop();
}

/** Closes the handle `child` was sent and never acknowledged (see the header); call once it exited. */
export function closeUnackedHandle(child: object): void {
  const pending = Reflect.get(child, '_pendingMessage') as { handle?: { close?: () => void } } | null | undefined;
  if (typeof pending?.handle?.close !== 'function') return;
  pending.handle.close();
  Reflect.set(child, '_pendingMessage', null);
}
