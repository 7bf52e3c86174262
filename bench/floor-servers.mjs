#!/usr/bin/env node
// The reference servers floors.mjs measures: each answers every request with the same 16-byte
// hello, so what they cost per request is the floor a Node front end cannot go below.
//
//   node bench/floor-servers.mjs VARIANT PORT
//
//   http            node:http, writeHead + end with Content-Length (what nodicorn's front end uses)
//   net             node:net writing a canned response per head ("\r\n\r\n"); no parsing at all
//   llhttp          node:net + Node's own llhttp binding fed from 'data' events, canned response
//   llhttp-consume  the same binding reading the socket natively (parser.consume), as node:http does
//   llhttp-environ  llhttp-consume + nodicorn's own environ builder and REQUEST frame encoder per
//                   request: what building the request state costs on such a path
import { createServer as createHttpServer } from 'node:http';
import { createRequire } from 'node:module';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { root } from './lib.mjs';

const require = createRequire(import.meta.url);
const [variant, port] = process.argv.slice(2);

const HELLO = Buffer.from('Hello my friend!');
const CANNED = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${HELLO.length}\r\n\r\n${HELLO}`);
const BAD = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');

function httpServer() {
  return createHttpServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(HELLO.length) });
    res.end(HELLO);
  });
}

/** One canned response per "\r\n\r\n": enough for wrk's bodiless GETs, pipelined or not. */
function netServer() {
  const END = Buffer.from('\r\n\r\n');
  return createNetServer((sock) => {
    let carry = null; // the last bytes of a chunk that may start a terminator split across reads
    sock.on('data', (chunk) => {
      const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
      let n = 0;
      let at = 0;
      for (let i = buf.indexOf(END); i >= 0; i = buf.indexOf(END, at)) {
        n++;
        at = i + 4;
      }
      carry = buf.length - at > 0 ? buf.subarray(Math.max(at, buf.length - 3)) : null;
      if (n === 1) sock.write(CANNED);
      else if (n > 1) sock.write(Buffer.concat(Array(n).fill(CANNED)));
    });
    sock.on('error', () => sock.destroy());
  });
}

/**
 * Node's llhttp binding. `require('_http_common').HTTPParser` loads without a warning on Node 20;
 * `process.binding('http_parser')` gives the same class but prints DEP0111.
 */
function llhttpServer({ consume, environ }) {
  const { HTTPParser } = require('_http_common');
  const { methods } = require('_http_common');
  const { kOnHeaders, kOnHeadersComplete, kOnBody, kOnMessageComplete, kOnExecute } = HTTPParser;
  const build = environ ? require(join(root, 'dist', 'http', 'environ.js')).buildEnviron : null;
  const encode = environ ? require(join(root, 'dist', 'protocol', 'frames.js')).encodeRequest : null;
  // The client's address and scheme, resolved per request as the frontend does (default trust).
  const { ProxyTrust } = environ ? require(join(root, 'dist', 'http', 'forwarded.js')) : {};
  const { originOf } = environ ? require(join(root, 'dist', 'http', 'origin.js')) : {};
  const { SETTINGS } = environ ? require(join(root, 'dist', 'config', 'settings.js')) : {};
  // The registry's defaults, as nodicorn starts with no flags (no environment consulted).
  const byDefault = (name) => SETTINGS[name].defaultValue({ cwd: process.cwd(), read: () => undefined });
  const trust = environ
    ? new ProxyTrust({ forwardedAllowIps: byDefault('forwardedAllowIps'), secureSchemeHeaders: byDefault('secureSchemeHeaders'), forwarderHeaders: byDefault('forwarderHeaders') })
    : null;
  let nextId = 1;
  let sunk = null; // keeps the built frame observable, so the work cannot be optimised away

  return createNetServer((sock) => {
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.REQUEST, {}, 0, 0);
    let keepAlive = true;
    let partial = []; // header pairs flushed early (over 32 fields or split across reads)
    let partialUrl = '';
    parser[kOnHeaders] = (headers, url) => {
      partial = partial.concat(headers);
      partialUrl += url;
    };
    parser[kOnHeadersComplete] = (major, minor, headers, method, url, _status, _message, upgrade, shouldKeepAlive) => {
      keepAlive = shouldKeepAlive;
      if (partial.length || partialUrl) {
        headers = partial.concat(headers ?? []);
        url = partialUrl + (url ?? '');
        partial = [];
        partialUrl = '';
      }
      if (build) {
        const req = { url, method: methods[method], httpVersion: `${major}.${minor}`, httpVersionMajor: major, rawHeaders: headers, socket: sock };
        sunk = encode(nextId++ & 0xffffffff, 0, build(req, trust.resolve(originOf(sock), headers, 'http'), ''));
      }
      return upgrade ? 2 : 0;
    };
    parser[kOnBody] = () => {};
    parser[kOnMessageComplete] = () => {
      if (keepAlive) sock.write(CANNED);
      else sock.end(CANNED);
    };
    const failed = (ret) => {
      if (ret instanceof Error) {
        sock.end(BAD);
        return true;
      }
      return false;
    };
    if (consume) {
      parser.consume(sock._handle);
      parser[kOnExecute] = (ret) => failed(ret);
    } else {
      sock.on('data', (chunk) => failed(parser.execute(chunk)));
    }
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      if (consume) parser.unconsume();
      parser.free();
      void sunk;
    });
  });
}

const SERVERS = {
  http: httpServer,
  net: netServer,
  llhttp: () => llhttpServer({ consume: false, environ: false }),
  'llhttp-consume': () => llhttpServer({ consume: true, environ: false }),
  'llhttp-environ': () => llhttpServer({ consume: true, environ: true }),
};

const make = SERVERS[variant];
if (!make || !port) {
  console.error(`usage: floor-servers.mjs ${Object.keys(SERVERS).join('|')} PORT`);
  process.exit(2);
}
const server = make();
server.listen(Number(port), '127.0.0.1', 4096);
process.on('SIGTERM', () => process.exit(0));
