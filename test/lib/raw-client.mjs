// A raw HTTP/1.x client over one TCP connection: bytes written exactly as given, responses read
// and parsed by hand (status line, headers, Content-Length, chunked or close framing), so tests
// see what the server put on the wire. Reads never wait past their deadline.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { sleep } from './wait.mjs';

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
