/**
 * StatsD metrics with gunicorn's names and types (--statsd-host, --statsd-prefix, --dogstatsd-tags,
 * --enable-backlog-metric), sent from the Node core, which sees every request and every worker:
 *
 *   gunicorn.requests:1|c|@1.0            one per request (summed within a batch)
 *   gunicorn.request.duration:12.5|ms     per request, milliseconds
 *   gunicorn.request.status.404:1|c|@1.0  per request, by status
 *   gunicorn.workers:4|g                  the worker count, when it changes
 *   gunicorn.backlog:0|h                  each second with --enable-backlog-metric: requests waiting
 *                                         for a free worker (nodicorn's dispatch queue)
 *   gunicorn.log.error:1|c|@1.0           per error-log line at that level (critical, error,
 *                                         warning, exception)
 *
 * Lines are gathered over one event-loop turn into datagrams of at most MAX_DATAGRAM bytes
 * (StatsD takes several newline-separated lines per datagram), counters summed, so a request
 * costs a few string operations and never a send of its own. UDP never waits for the server:
 * a StatsD that is down or slow costs dropped datagrams, never slower requests.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ConfigError } from '../errors';
import type { AccessEntry } from './access';

/** Fits one Ethernet frame with IP and UDP headers: no fragmentation on a LAN. */
const MAX_DATAGRAM = 1432;
/** Datagrams handed to the kernel but not yet sent, past which a batch is dropped. */
const MAX_SEND_QUEUE = 64;
const DEFAULT_PORT = 8125;

export interface StatsdAddress {
  host: string;
  port: number;
}

/**
 * --statsd-host as gunicorn reads it: HOST:PORT, HOST (port 8125), [IPv6]:PORT. A unix socket
 * (unix:PATH, unix://PATH), which gunicorn also takes, is refused: StatsD listens on datagram
 * sockets, and Node's dgram has no unix datagram sockets.
 */
export function parseStatsdAddress(raw: string): StatsdAddress {
  let text = raw.trim();
  // gunicorn reads "unix:8125" as the host named "unix", port 8125, not as a socket path.
  const unixHost = /^unix:(\d+)$/.exec(text);
  if (unixHost) return { host: 'unix', port: port(unixHost[1] as string, raw) };
  if (/^unix:/.test(text)) {
    throw new ConfigError(
      `--statsd-host: unix sockets are not supported (Node's dgram cannot send to a unix datagram socket); give HOST:PORT, got "${raw}"`,
    );
  }
  if (text.startsWith('udp://')) text = text.slice(6);
  if (text.startsWith('tcp://')) text = text.slice(6);
  let host: string;
  let portText = String(DEFAULT_PORT);
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (v6) {
    host = v6[1] as string;
    if (v6[2] !== undefined) portText = v6[2];
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    if (colon >= 0) portText = text.slice(colon + 1);
  }
  if (host === '') throw new ConfigError(`--statsd-host: expected HOST:PORT, got "${raw}"`);
  return { host: host.toLowerCase(), port: port(portText, raw) };
}

function port(text: string, raw: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : -1;
  if (n < 1 || n > 65535) throw new ConfigError(`--statsd-host: expected HOST:PORT with a port from 1 to 65535, got "${raw}"`);
  return n;
}

/** gunicorn's --statsd-prefix rule: a prefix of two characters or more ends in exactly one ".". */
export function normalizePrefix(prefix: string): string {
  const m = /^(.+[^.]+)\.*$/s.exec(prefix);
  return m ? `${m[1] as string}.` : prefix;
}

/** Python prints a float with a fraction: 5 ms is "5.0". */
function pyFloat(n: number): string {
  return Number.isInteger(n) ? `${n}.0` : String(n);
}

export interface StatsdOptions {
  address: StatsdAddress;
  prefix: string;
  /** --dogstatsd-tags: "tag1:value1,tag2:value2", appended to each line as "|#...". */
  tags: string;
}

export class Statsd {
  private readonly prefix: string;
  private readonly suffix: string;
  private socket: Socket | null = null;
  private readonly counters = new Map<string, number>();
  private lines: string[] = [];
  private scheduled = false;
  /** Batches dropped because the kernel's send queue was full. */
  dropped = 0;

  private readonly durationHead: string;
  private readonly requestsKey: string;
  /** Status code → its counter's full name; a handful of codes in practice. */
  private readonly statusKeys = new Map<number, string>();

  private constructor(options: StatsdOptions) {
    this.prefix = normalizePrefix(options.prefix);
    this.suffix = options.tags ? `|#${options.tags}` : '';
    this.durationHead = `${this.prefix}gunicorn.request.duration:`;
    this.requestsKey = `${this.prefix}gunicorn.requests`;
  }

  /**
   * Resolves the host once (as gunicorn connects once) and opens the socket. A name that does
   * not resolve is reported by the caller and metrics stay off, as under gunicorn.
   */
  static async open(options: StatsdOptions): Promise<Statsd> {
    const client = new Statsd(options);
    const { host, port: p } = options.address;
    const family = isIP(host) === 6 ? 6 : 4;
    const ip = isIP(host) ? host : (await lookup(host, { family })).address;
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    // Sends on a connected UDP socket report a closed port (ECONNREFUSED) here: nothing to do.
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(p, ip, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.unref();
    client.socket = socket;
    return client;
  }

  increment(name: string, value = 1): void {
    const key = this.prefix + name;
    this.counters.set(key, (this.counters.get(key) ?? 0) + value);
    this.schedule();
  }

  gauge(name: string, value: number): void {
    this.add(`${this.prefix}${name}:${value}|g`);
  }

  timer(name: string, ms: number): void {
    this.add(`${this.prefix}${name}:${pyFloat(ms)}|ms`);
  }

  histogram(name: string, value: number): void {
    this.add(`${this.prefix}${name}:${value}|h`);
  }

  /** One finished request, as gunicorn's Statsd logger counts it in access(). */
  log(entry: AccessEntry): void {
    // The per-request path: names built once, so a request costs two map updates and one line.
    this.add(this.durationHead + pyFloat(entry.durationMicros / 1000) + '|ms');
    this.count(this.requestsKey);
    this.count(this.statusKeys.get(entry.status) ?? this.statusKey(entry.status));
  }

  private statusKey(status: number): string {
    const key = `${this.prefix}gunicorn.request.status.${status}`;
    this.statusKeys.set(status, key);
    return key;
  }

  private count(key: string): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
    this.schedule();
  }

  /** Sends what is pending now. */
  flush(): void {
    this.scheduled = false;
    for (const [key, value] of this.counters) this.lines.push(`${key}:${value}|c|@1.0`);
    this.counters.clear();
    if (this.lines.length === 0) return;
    const lines = this.lines;
    this.lines = [];
    let datagram = '';
    for (const line of lines) {
      const text = line + this.suffix;
      if (datagram !== '' && datagram.length + 1 + text.length > MAX_DATAGRAM) {
        this.send(datagram);
        datagram = '';
      }
      datagram = datagram === '' ? text : `${datagram}\n${text}`;
    }
    this.send(datagram);
  }

  close(): void {
    this.flush();
    // Sends already queued still go out: dgram closes the handle after them.
    this.socket?.close();
    this.socket = null;
  }

  private add(line: string): void {
    this.lines.push(line);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private send(datagram: string): void {
    const socket = this.socket;
    if (socket === null) return;
    if (socket.getSendQueueCount() >= MAX_SEND_QUEUE) {
      this.dropped++;
      return;
    }
    socket.send(datagram);
  }
}

/** The pool as one sample reads it. */
export interface PoolFigures {
  /** The workers the server has (booting and retiring ones too, as gunicorn counts them). */
  workers: number;
  /** Requests waiting for a free worker (--enable-backlog-metric's histogram). */
  backlog: number;
}

/**
 * Reads the whole server's pool: at once in a single process; asked of its front ends, and so
 * later, in the master of several. Null when it cannot tell: that second sends nothing.
 */
export type PoolReader = () => PoolFigures | null | Promise<PoolFigures | null>;

/**
 * Samples the pool each second, as gunicorn's arbiter loop does: the worker gauge when the
 * count changed, and with `backlog` the backlog histogram every time. Only one process of a
 * server watches its pool, so that StatsD gets one value. Returns the function that stops it.
 */
export function watchPool(statsd: Statsd, read: PoolReader, backlog: boolean, everyMs = 1000): () => void {
  let lastWorkers = -1;
  let reading = false;
  const sample = async (): Promise<void> => {
    // A read that takes longer than a second is not stacked up behind.
    if (reading) return;
    reading = true;
    try {
      const pool = await read();
      if (pool === null) return;
      if (pool.workers !== lastWorkers) {
        lastWorkers = pool.workers;
        statsd.gauge('gunicorn.workers', pool.workers);
      }
      if (backlog) statsd.histogram('gunicorn.backlog', pool.backlog);
    } finally {
      reading = false;
    }
  };
  const timer = setInterval(() => void sample(), everyMs);
  timer.unref();
  void sample();
  return () => clearInterval(timer);
}
