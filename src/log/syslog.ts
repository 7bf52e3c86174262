/**
 * --log-syslog: the error log's lines (and the access log's, unless
 * --disable-redirect-access-to-syslog) also go to syslog, in the form gunicorn's Python
 * SysLogHandler sends:
 *
 *   <PRI>gunicorn.PREFIX.error: [PID] MESSAGE\0
 *
 * PRI is facility * 8 + severity; PREFIX is --log-syslog-prefix, else the process name (-n, else
 * the app) with ":" turned into "."; each message ends in a NUL byte, as Python's handler sends it.
 * Kept "gunicorn." so syslog filters written for a gunicorn deployment still match.
 *
 * --log-syslog-to: udp://HOST:PORT (one datagram per message), tcp://HOST:PORT and unix://PATH
 * (a stream socket, through node:net). A unix datagram socket (unix://PATH#dgram, or /dev/log on
 * Linux) is refused with one line: Node's dgram has no unix datagram sockets.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { connect, isIP, type Socket } from 'node:net';
import { ConfigError } from '../errors';
import type { LogLevel } from './logger';

/** Syslog facility codes by name, as gunicorn names them. */
export const SYSLOG_FACILITIES: Readonly<Record<string, number>> = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  security: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

/** The severities Python's SysLogHandler maps its levels to. */
const SEVERITY: Record<LogLevel, number> = { debug: 7, info: 6, warning: 4, error: 3, critical: 2 };

/** Past this much unsent text on a stream socket, messages are dropped rather than queued. */
const MAX_PENDING_BYTES = 1024 * 1024;
/** A lost stream connection is tried again at most this often (on the next message). */
const RECONNECT_MS = 1000;

export type SyslogAddress = { kind: 'udp' | 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseFacility(raw: string): number {
  const code = SYSLOG_FACILITIES[raw.trim().toLowerCase()];
  if (code === undefined) {
    throw new ConfigError(`--log-syslog-facility: expected one of ${Object.keys(SYSLOG_FACILITIES).join(', ')}, got "${raw}"`);
  }
  return code;
}

const DGRAM_REFUSED =
  'is a unix datagram socket, which Node cannot send to (its dgram module has no unix sockets); ' +
  'use udp://HOST:PORT (rsyslog: module(load="imudp")) or a unix stream socket';

/** gunicorn's forms: udp://HOST:PORT, tcp://HOST:PORT (port 514 when left out), unix://PATH[#stream|#dgram]. */
export function parseSyslogAddress(raw: string): SyslogAddress {
  if (raw.startsWith('unix://')) {
    const [path = '', type] = raw.slice(7).split('#', 2);
    if (type === 'dgram') throw new ConfigError(`--log-syslog-to: "${raw}" ${DGRAM_REFUSED}`);
    if (path === '' || (type !== undefined && type !== 'stream')) {
      throw new ConfigError(`--log-syslog-to: expected unix://PATH or unix://PATH#stream, got "${raw}"`);
    }
    return { kind: 'unix', path };
  }
  const scheme = /^(udp|tcp):\/\//.exec(raw);
  if (!scheme) throw new ConfigError(`--log-syslog-to: expected udp://HOST:PORT, tcp://HOST:PORT or unix://PATH, got "${raw}"`);
  const rest = raw.slice(scheme[0].length);
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (v6) [, host = '', portText] = v6;
  else {
    const colon = rest.indexOf(':');
    host = colon < 0 ? rest : rest.slice(0, colon);
    portText = colon < 0 ? undefined : rest.slice(colon + 1);
  }
  const port = portText === undefined ? 514 : /^\d{1,5}$/.test(portText) ? Number(portText) : -1;
  if (port < 1 || port > 65535) throw new ConfigError(`--log-syslog-to: expected a port from 1 to 65535, got "${raw}"`);
  return { kind: scheme[1] as 'udp' | 'tcp', host: host === '' ? 'localhost' : host.toLowerCase(), port };
}

/** One message in the form Python's SysLogHandler sends it. */
export function formatSyslog(facility: number, level: LogLevel, program: string, pid: number, message: string): string {
  return `<${facility * 8 + SEVERITY[level]}>${program}: [${pid}] ${message}\0`;
}

interface Transport {
  send(text: string): void;
  close(): void;
}

export interface SyslogOptions {
  address: SyslogAddress;
  facility: number;
  /** --log-syslog-prefix, else the process name: "gunicorn.<it>.error" is the program name. */
  prefix: string;
}

export class Syslog {
  private readonly errorProgram: string;
  private readonly accessProgram: string;

  private constructor(
    private readonly transport: Transport,
    private readonly facility: number,
    prefix: string,
  ) {
    const name = prefix.replace(/:/g, '.');
    this.errorProgram = `gunicorn.${name}.error`;
    this.accessProgram = `gunicorn.${name}.access`;
  }

  /** Connects (stream sockets) or resolves the host (UDP); a failure is a ConfigError. */
  static async open(options: SyslogOptions): Promise<Syslog> {
    const { address } = options;
    const transport = address.kind === 'udp' ? await openUdp(address.host, address.port) : await StreamTransport.open(address);
    return new Syslog(transport, options.facility, options.prefix);
  }

  error(level: LogLevel, message: string, pid: number): void {
    this.transport.send(formatSyslog(this.facility, level, this.errorProgram, pid, message));
  }

  access(line: string, pid: number): void {
    this.transport.send(formatSyslog(this.facility, 'info', this.accessProgram, pid, line));
  }

  close(): void {
    this.transport.close();
  }
}

function describe(address: SyslogAddress): string {
  return address.kind === 'unix' ? `unix://${address.path}` : `${address.kind}://${address.host}:${address.port}`;
}

async function openUdp(host: string, port: number): Promise<Transport> {
  let ip: string;
  try {
    ip = isIP(host) ? host : (await lookup(host)).address;
  } catch (err) {
    throw new ConfigError(`--log-syslog-to: cannot resolve "${host}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const socket: UdpSocket = createSocket(isIP(ip) === 6 ? 'udp6' : 'udp4');
  // A syslog daemon that is down costs messages, never the server.
  socket.on('error', () => {});
  socket.unref();
  let closed = false;
  return {
    // A line logged after close (a late worker exit) must not throw from a closed socket.
    send: (text) => {
      if (!closed) socket.send(text, port, ip);
    },
    close: () => {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}

/** tcp:// and unix:// (stream): one connection, opened again on demand after it drops. */
class StreamTransport implements Transport {
  private socket: Socket | null = null;
  private lastAttempt = 0;
  private closed = false;

  private constructor(private readonly address: Exclude<SyslogAddress, { kind: 'udp' }>) {}

  static async open(address: Exclude<SyslogAddress, { kind: 'udp' }>): Promise<StreamTransport> {
    const transport = new StreamTransport(address);
    try {
      await transport.connect();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // connect() on a SOCK_DGRAM unix socket: the kernel's "wrong protocol type".
      if (code === 'EPROTOTYPE') throw new ConfigError(`--log-syslog-to: ${describe(address)} ${DGRAM_REFUSED}`);
      throw new ConfigError(`--log-syslog-to: cannot connect to ${describe(address)} (${code ?? String(err)})`);
    }
    return transport;
  }

  private connect(): Promise<void> {
    this.lastAttempt = Date.now();
    return new Promise((resolve, reject) => {
      const a = this.address;
      const socket = a.kind === 'unix' ? connect({ path: a.path }) : connect({ host: a.host, port: a.port });
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', () => {});
        socket.unref();
        this.socket = socket;
        resolve();
      });
      socket.once('error', reject);
      socket.once('close', () => {
        if (this.socket === socket) this.socket = null;
      });
    });
  }

  send(text: string): void {
    if (this.closed) return;
    const socket = this.socket;
    if (socket === null) {
      if (Date.now() - this.lastAttempt >= RECONNECT_MS) this.connect().catch(() => {});
      return;
    }
    if (socket.writableLength > MAX_PENDING_BYTES) return;
    socket.write(text);
  }

  close(): void {
    this.closed = true;
    this.socket?.end();
  }
}
