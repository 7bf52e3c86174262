// Black-box test helpers: start the real CLI on port 0 and talk raw TCP to it.
//
// Not a test file itself (run.sh runs test/*.test.mjs only). Every wait here has a deadline, so
// a broken server fails a test instead of hanging the run.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const APPS = path.join(ROOT, 'test', 'fixtures', 'apps');
export const EXAMPLES = path.join(ROOT, 'examples');
export const CLI = path.join(ROOT, 'bin', 'nodicorn');
/** The interpreter the workers run: run.sh exports the test venv's python. */
export const PYTHON = process.env.NODICORN_TEST_PYTHON ? path.resolve(ROOT, process.env.NODICORN_TEST_PYTHON) : null;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const LISTENING = /Listening at: https?:\/\/[^\s]*:(\d+)\b/;
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/** argv for the CLI: app spec and flags, plus --python when the run asked for a given one. */
export function cliArgs(args, { python = true } = {}) {
  const out = [CLI, ...args];
  if (python && PYTHON && !args.includes('--python')) out.push('--python', PYTHON);
  return out;
}

/** Whether the test interpreter can import these modules (frameworks are optional locally). */
export function pythonHas(...modules) {
  const py = PYTHON ?? 'python3';
  const r = spawnSync(py, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore', timeout: 30_000 });
  return r.status === 0;
}

export class LineCollector {
  constructor(stream, sink) {
    this.lines = [];
    this.waiters = new Set();
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (text) => {
      rest += text;
      let i;
      while ((i = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, i).replace(/\r$/, '');
        rest = rest.slice(i + 1);
        this.lines.push(line);
        if (sink) sink(line);
        for (const w of this.waiters) w();
      }
    });
    stream.on('end', () => {
      if (rest) { this.lines.push(rest); rest = ''; }
      this.ended = true;
      for (const w of this.waiters) w();
    });
  }

  /** Resolves with the first line (from line index `from`) matching `re`; rejects after `ms`. */
  waitFor(re, ms = 10_000, from = 0, what = 'output') {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.lines.length; i++) {
          const m = re.exec(this.lines[i]);
          if (m) { done(); resolve(m); return true; }
        }
        if (this.ended) { done(); reject(new Error(`${what} ended without a line matching ${re}:\n${this.tail()}`)); return true; }
        return false;
      };
      const timer = setTimeout(() => { done(); reject(new Error(`no ${what} line matching ${re} within ${ms} ms:\n${this.tail()}`)); }, ms);
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      if (!check()) this.waiters.add(check);
    });
  }

  tail(n = 40) {
    return this.lines.slice(-n).join('\n');
  }
}

/**
 * Starts `node bin/nodicorn ...args --bind 127.0.0.1:0` and waits for the Listening line.
 * With `command`, runs `command ...args` as given instead (a Python script that starts nodicorn).
 * Returns { port, pid, proc, stderrLines, stdoutLines, waitStderr, waitStdout, exited, stop, kill }.
 */
export async function startServer(args, { cwd = ROOT, env = {}, timeout = 30_000, bind = true, waitWorkers = 0, python = true, command = null, echo = !!process.env.NODICORN_TEST_ECHO } = {}) {
  const argv = command ? args : cliArgs(bind ? [...args, '--bind', '127.0.0.1:0'] : args, { python });
  const proc = spawn(command ?? process.execPath, argv, {
    cwd,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  const tag = `[nodicorn ${args[0]}]`;
  const stderr = new LineCollector(proc.stderr, echo ? (l) => process.stderr.write(`${tag} ${l}\n`) : null);
  const stdout = new LineCollector(proc.stdout, echo ? (l) => process.stderr.write(`${tag} out: ${l}\n`) : null);
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(proc);
      resolve(exitInfo);
    });
  });

  const server = {
    proc,
    pid: proc.pid,
    port: 0,
    stderrLines: stderr.lines,
    stdoutLines: stdout.lines,
    exited,
    get exitInfo() { return exitInfo; },
    waitStderr: (re, ms, from) => stderr.waitFor(re, ms, from, 'stderr'),
    waitStdout: (re, ms, from) => stdout.waitFor(re, ms, from, 'stdout'),
    stderrText: () => stderr.lines.join('\n'),
    /** Graceful stop: SIGTERM, then the exit status (SIGKILL and throw past `ms`). */
    async stop(signal = 'SIGTERM', ms = 20_000) {
      if (exitInfo) return exitInfo;
      proc.kill(signal);
      let timer;
      const late = new Promise((resolve) => { timer = setTimeout(resolve, ms, null); });
      // Cleared once the race is decided, so a stopped server does not keep the test file alive for `ms`.
      const result = await Promise.race([exited, late]).finally(() => clearTimeout(timer));
      if (!result) {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`server did not exit within ${ms} ms after ${signal}:\n${stderr.tail()}`);
      }
      return result;
    },
    /** Hard cleanup for after() hooks: never throws. */
    async kill() {
      if (exitInfo) return exitInfo;
      proc.kill('SIGKILL');
      return exited;
    },
    /** Stderr lines that show a wsgiref.validate failure (see fixtures/apps/wsgicheck.py). */
    validationFailures() {
      return stderr.lines.filter((l) => l.includes('X-WSGI-Validate: fail') || l.includes('without being closed'));
    },
  };

  const early = exited.then((info) => {
    throw new Error(`server exited (${JSON.stringify(info)}) before listening:\n${stderr.tail()}`);
  });
  try {
    const m = await Promise.race([stderr.waitFor(LISTENING, timeout, 0, 'stderr'), early]);
    server.port = Number(m[1]);
    if (waitWorkers > 0) {
      const deadline = Date.now() + timeout;
      while (server.stderrLines.filter((l) => /Booting worker with pid:? \d+/.test(l)).length < waitWorkers) {
        if (exitInfo) throw new Error(`server exited while booting workers:\n${stderr.tail()}`);
        if (Date.now() > deadline) throw new Error(`fewer than ${waitWorkers} workers booted in ${timeout} ms:\n${stderr.tail()}`);
        await sleep(25);
      }
    }
  } catch (err) {
    early.catch(() => {});
    await server.kill();
    throw err;
  }
  early.catch(() => {});
  return server;
}

/** Starts a server for a test file; stops it (SIGKILL if needed) when the suite ends. */
export async function serverFor(t, args, opts) {
  const server = await startServer(args, opts);
  t.after(() => server.kill());
  return server;
}

/** Runs the CLI to completion (for exit-code tests). Resolves {code, signal, stdout, stderr}. */
export function runCli(args, { cwd = ROOT, env = {}, timeout = 30_000, python = true } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, cliArgs(args, { python }), {
      cwd,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`CLI ${args.join(' ')} still running after ${timeout} ms:\n${stderr.slice(-4000)}`));
    }, timeout);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.x client

export class ConnectionClosedError extends Error {
  constructor(received) {
    super(`connection closed before a response head (received ${received.length} bytes: ${JSON.stringify(received.toString('latin1').slice(0, 200))})`);
    this.received = received;
  }
}

/** One TCP connection with a byte queue; reads never wait past their deadline. */
export class RawClient {
  static connect(port, { host = '127.0.0.1', timeout = 5_000 } = {}) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`connect to ${host}:${port} timed out`)); }, timeout);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new RawClient(socket));
      });
      socket.once('error', (err) => { clearTimeout(timer); reject(err); });
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.bufs = [];
    this.length = 0;
    this.ended = false;
    this.error = null;
    this.wake = null;
    socket.on('data', (b) => { this.bufs.push(b); this.length += b.length; this._wake(); });
    socket.on('end', () => { this.ended = true; this._wake(); });
    socket.on('close', () => { this.ended = true; this._wake(); });
    socket.on('error', (err) => { this.error = err; this.ended = true; this._wake(); });
  }

  _wake() {
    const w = this.wake;
    this.wake = null;
    if (w) w();
  }

  /** Waits for more data or EOF; false at EOF, throws at the deadline. */
  async _more(deadline) {
    if (this.ended) return false;
    const before = this.length;
    const ms = deadline - performance.now();
    if (ms <= 0) throw new Error('timed out waiting for data');
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.wake = null; reject(new Error('timed out waiting for data')); }, ms);
      this.wake = () => { clearTimeout(timer); resolve(); };
    });
    return this.length > before || !this.ended;
  }

  /** Removes and returns exactly n buffered bytes (n <= this.length) as a list of slices. */
  _takeSlices(n) {
    const out = [];
    while (n > 0) {
      const b = this.bufs[0];
      if (b.length <= n) {
        out.push(b);
        this.bufs.shift();
        n -= b.length;
        this.length -= b.length;
      } else {
        out.push(b.subarray(0, n));
        this.bufs[0] = b.subarray(n);
        this.length -= n;
        n = 0;
      }
    }
    return out;
  }

  _indexOfLF() {
    let offset = 0;
    for (const b of this.bufs) {
      const i = b.indexOf(10);
      if (i >= 0) return offset + i;
      offset += b.length;
    }
    return -1;
  }

  write(data) {
    return new Promise((resolve, reject) => {
      this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Sends bytes in pieces with a pause between writes (parsers break at buffer edges). */
  async writeSplit(data, sizes, pauseMs = 5) {
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    let at = 0;
    for (const size of sizes) {
      await this.write(buf.subarray(at, at + size));
      at += size;
      await sleep(pauseMs);
    }
    if (at < buf.length) await this.write(buf.subarray(at));
  }

  /** A line without its CRLF (or LF); null at EOF before a full line. */
  async readLine(deadline) {
    for (;;) {
      const i = this._indexOfLF();
      if (i >= 0) {
        const line = Buffer.concat(this._takeSlices(i + 1));
        return line.subarray(0, line.length - (line.length >= 2 && line[line.length - 2] === 13 ? 2 : 1));
      }
      if (!(await this._more(deadline))) return null;
    }
  }

  /** Exactly n bytes, streamed to sink(buf); returns how many came before EOF. */
  async readBytes(n, deadline, sink) {
    let got = 0;
    while (got < n) {
      if (this.length === 0 && !(await this._more(deadline))) return got;
      const take = Math.min(n - got, this.length);
      for (const s of this._takeSlices(take)) sink(s);
      got += take;
    }
    return got;
  }

  async readToEnd(deadline, sink) {
    let got = 0;
    for (;;) {
      if (this.length > 0) {
        const take = this.length;
        for (const s of this._takeSlices(take)) sink(s);
        got += take;
      }
      if (!(await this._more(deadline))) return got;
    }
  }

  /**
   * Reads one response. Options: head (request was HEAD: no body), timeout ms, sink(buf) to
   * stream the body instead of keeping it, keepInterim (return a 1xx response instead of
   * skipping it). Result: { version, status, reason, headers: [[name, value]], get(name),
   * getAll(name), body (Buffer|null), bodyLength, framing: 'length'|'chunked'|'close'|'none',
   * complete (false when the connection ended mid-body), interim: [1xx responses], times }.
   * Throws ConnectionClosedError when the connection ends before a status line.
   */
  async readResponse({ head = false, timeout = 10_000, sink = null, keepInterim = false } = {}) {
    const deadline = performance.now() + timeout;
    const interim = [];
    const times = { start: performance.now() };
    for (;;) {
      const statusLine = await this.readLine(deadline);
      if (statusLine === null) throw new ConnectionClosedError(Buffer.concat(this._takeSlices(this.length)));
      times.statusAt ??= performance.now();
      const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine.toString('latin1'));
      if (!m) throw new Error(`bad status line: ${JSON.stringify(statusLine.toString('latin1'))}`);
      const headers = [];
      for (;;) {
        const line = await this.readLine(deadline);
        if (line === null) throw new Error(`connection closed inside the response head (status ${m[2]})`);
        if (line.length === 0) break;
        const text = line.toString('latin1');
        const colon = text.indexOf(':');
        if (colon <= 0) throw new Error(`bad header line: ${JSON.stringify(text)}`);
        headers.push([text.slice(0, colon), text.slice(colon + 1).trim()]);
      }
      const res = makeResponse(m[1], Number(m[2]), m[3] ?? '', headers);
      res.interim = interim;
      res.times = times;
      if (res.status >= 100 && res.status < 200 && res.status !== 101) {
        if (keepInterim) return res;
        interim.push(res);
        continue;
      }
      times.headAt = performance.now();
      const chunks = [];
      const bodySink = (b) => {
        if (res.bodyLength === 0 && b.length) times.firstBodyAt = performance.now();
        res.bodyLength += b.length;
        if (sink) sink(b); else chunks.push(b);
      };
      res.bodyLength = 0;
      const te = res.get('transfer-encoding');
      const cl = res.get('content-length');
      if (head || res.status === 204 || res.status === 304) {
        res.framing = 'none';
      } else if (te && /chunked\s*$/i.test(te)) {
        res.framing = 'chunked';
        res.complete = await this._readChunked(deadline, bodySink, res);
      } else if (cl !== undefined) {
        res.framing = 'length';
        const n = Number(cl);
        res.complete = (await this.readBytes(n, deadline, bodySink)) === n;
      } else {
        res.framing = 'close';
        await this.readToEnd(deadline, bodySink);
        res.complete = true;
      }
      times.endAt = performance.now();
      res.body = sink ? null : Buffer.concat(chunks);
      return res;
    }
  }

  async _readChunked(deadline, sink, res) {
    for (;;) {
      const line = await this.readLine(deadline);
      if (line === null) return false;
      const size = parseInt(line.toString('latin1').split(';')[0].trim(), 16);
      if (Number.isNaN(size)) throw new Error(`bad chunk size line: ${JSON.stringify(line.toString('latin1'))}`);
      if (size === 0) {
        res.trailers = [];
        for (;;) {
          const t = await this.readLine(deadline);
          if (t === null) return false;
          if (t.length === 0) return true;
          res.trailers.push(t.toString('latin1'));
        }
      }
      if ((await this.readBytes(size, deadline, sink)) !== size) return false;
      const crlf = await this.readLine(deadline);
      if (crlf === null) return false;
      if (crlf.length !== 0) throw new Error('chunk data not followed by CRLF');
    }
  }

  /** True if the server closes (EOF or reset) within ms with no further bytes needed. */
  async waitClosed(ms = 1_000) {
    const deadline = performance.now() + ms;
    while (!this.ended) {
      try {
        await this._more(deadline);
      } catch {
        return false;
      }
    }
    return true;
  }

  /** Bytes the server sent that no response read has consumed. */
  pending() {
    return Buffer.concat(this.bufs);
  }

  close() {
    this.socket.destroy();
  }
}

function makeResponse(version, status, reason, headers) {
  return {
    version,
    status,
    reason,
    headers,
    get(name) {
      const all = this.getAll(name);
      return all.length ? all.join(', ') : undefined;
    },
    getAll(name) {
      const lower = name.toLowerCase();
      return headers.filter(([k]) => k.toLowerCase() === lower).map(([, v]) => v);
    },
    text() {
      return this.body ? this.body.toString('utf8') : '';
    },
    json() {
      return JSON.parse(this.text());
    },
  };
}

/** Bytes of a request: buildRequest({method, path, version, headers: [[k, v]] | {k: v}, body}). */
export function buildRequest({ method = 'GET', path: target = '/', version = '1.1', headers = [], body = null, host = 'localhost' } = {}) {
  const list = Array.isArray(headers) ? headers.slice() : Object.entries(headers);
  if (host !== null && !list.some(([k]) => k.toLowerCase() === 'host')) list.unshift(['Host', host]);
  const bodyBuf = body === null ? null : (typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  if (bodyBuf && !list.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k))) list.push(['Content-Length', String(bodyBuf.length)]);
  const head = `${method} ${target} HTTP/${version}\r\n${list.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const headBuf = Buffer.from(head, 'latin1');
  return bodyBuf ? Buffer.concat([headBuf, bodyBuf]) : headBuf;
}

/** One request on a fresh connection; resolves the response (the connection is then closed). */
export async function request(port, opts = {}, readOpts = {}) {
  const client = await RawClient.connect(port);
  try {
    await client.write(opts.raw ?? buildRequest(opts));
    return await client.readResponse({ head: (opts.method ?? 'GET') === 'HEAD', ...readOpts });
  } finally {
    client.close();
  }
}

/**
 * Raw bytes on a fresh connection: the first response, and for an error status whether the
 * server then closed the connection (as it must after rejecting a request).
 */
export async function rawExchange(port, raw) {
  const client = await RawClient.connect(port);
  try {
    await client.write(raw);
    const res = await client.readResponse();
    res.closed = res.status >= 400 || /^close$/i.test(res.get('connection') ?? '') ? await client.waitClosed(2_000) : false;
    return res;
  } finally {
    client.close();
  }
}

/** GET path, expect a 200, return the body as text. */
export async function getText(port, target, headers = {}) {
  const res = await request(port, { path: target, headers });
  if (res.status !== 200) throw new Error(`GET ${target}: ${res.status} ${res.text().slice(0, 500)}`);
  return res.text();
}

/** Encodes a body as chunked transfer-coding with the given chunk sizes. */
export function chunked(body, size = 7) {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const parts = [];
  for (let at = 0; at < buf.length; at += size) {
    const piece = buf.subarray(at, at + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Data and process helpers

/** sha256 hex of what fixtures/apps/big_download.py sends for ?mb=N. */
export function downloadSha(mb) {
  const BLOCK = 1024 * 1024;
  const pattern = Buffer.alloc(BLOCK - 8);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 7 + 3) % 256;
  const hash = createHash('sha256');
  const index = Buffer.alloc(8);
  for (let k = 0; k < mb; k++) {
    index.writeBigUInt64BE(BigInt(k));
    hash.update(index);
    hash.update(pattern);
  }
  return hash.digest('hex');
}

/** Resident set size of a process in kB (Linux /proc), or null where unavailable. */
export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Samples rssKb(pid) every `everyMs` until stop() is called; stop() returns the peak kB. */
export function sampleRss(pid, everyMs = 50) {
  let peak = rssKb(pid) ?? 0;
  const timer = setInterval(() => {
    const v = rssKb(pid);
    if (v !== null && v > peak) peak = v;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const v = rssKb(pid);
      if (v !== null && v > peak) peak = v;
      return peak;
    },
  };
}

/** Worker pids announced so far in the error log ("Booting worker with pid: N"). */
export function bootedPids(server) {
  const pids = [];
  for (const line of server.stderrLines) {
    const m = /Booting worker with pid:? (\d+)/.exec(line);
    if (m) pids.push(Number(m[1]));
  }
  return pids;
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Open descriptors of process `pid` on files inside `dir` (Linux /proc), or null where /proc is
 * unavailable. A spool's temp file is unlinked once open, so it shows only here, as "(deleted)".
 */
export function fdsInDir(pid, dir) {
  let names;
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  const found = [];
  for (const name of names) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${name}`);
      if (target.startsWith(`${dir}${path.sep}`)) found.push(target);
    } catch {
      // closed between readdir and readlink
    }
  }
  return found;
}

/** Polls `check()` until it returns truthy or `ms` pass; returns the last value. */
export async function waitUntil(check, ms = 5_000, everyMs = 50) {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = check();
    if (value || performance.now() > deadline) return value;
    await sleep(everyMs);
  }
}
