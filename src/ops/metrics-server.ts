/**
 * --metrics-bind: a listener of its own (never one of the app's) for the operator's tools:
 * GET /metrics (Prometheus text, or OpenMetrics when asked), GET /healthz (200 while the server
 * runs) and GET /readyz (200 while it accepts work, 503 before its workers are up and once it
 * stops). Everything it reports is read when scraped; the request path only counts (request-stats.ts).
 * What it reads comes from a MetricsView: this process's own (localView), or one that asks
 * other processes and may take a while (the master of several front ends hands it one).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ConfigError } from '../errors';
import { Exposition, OPENMETRICS_TYPE, PROMETHEUS_TYPE, wantsOpenMetrics } from './exposition';
import { nodeProcessFigures, workerRss, writeNodeProcesses, type NodeProcess } from './process-stats';
import { DURATION_BUCKETS, METHODS, STATUS_CLASSES, type RequestCounts, type RequestStats } from './request-stats';

/** What the server is doing, read at scrape time. */
export interface ServerView {
  /** Accepting work: workers up, not stopping. */
  ready(): boolean;
  /** Requests waiting for a free worker thread. */
  queued(): number;
  /** Requests answered 503 because the queue was full. */
  rejected(): number;
  workers(): ReadonlyArray<{ readonly pid: number; readonly state: string }>;
  /** Workers replaced, by why. */
  restarts(): Readonly<Record<string, number>>;
}

/** Everything one scrape reports, read at once. */
export interface MetricsReading {
  readonly ready: boolean;
  readonly queued: number;
  readonly rejected: number;
  readonly workers: ReadonlyArray<{ readonly pid: number; readonly state: string }>;
  readonly restarts: Readonly<Record<string, number>>;
  readonly requests: RequestCounts;
  readonly processes: readonly NodeProcess[];
  /** Several front ends: how many answered this scrape in time, and how many did not. */
  readonly frontends?: { readonly answered: number; readonly silent: number };
}

/** What the metrics server reads; either answer may be a promise (it then waits for it). */
export interface MetricsView {
  /** For /readyz. */
  ready(): boolean | Promise<boolean>;
  /** For /metrics. */
  read(): MetricsReading | Promise<MetricsReading>;
}

/** The view of a server that is one process: its own counts and pool, read synchronously. */
export function localView(stats: RequestStats, server: ServerView): MetricsView {
  return {
    ready: () => server.ready(),
    read: () => ({
      ready: server.ready(),
      queued: server.queued(),
      rejected: server.rejected(),
      workers: server.workers(),
      restarts: server.restarts(),
      requests: stats,
      processes: [{ labels: {}, figures: nodeProcessFigures() }],
    }),
  };
}

const WORKER_STATES = ['booting', 'ready', 'retiring'] as const;

/** Where it listens: what config/address.ts's metricsAddress returns. */
export type MetricsAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export class MetricsServer {
  private readonly server: Server;

  constructor(private readonly view: MetricsView) {
    this.server = createServer((req, res) => {
      this.answer(req, res).catch((err: Error) => {
        if (!res.headersSent) this.send(res, 500, PROMETHEUS_TYPE, `cannot read the metrics: ${err.message}\n`);
      });
    });
  }

  /** Resolves with the port it listens on (0 for a unix socket). */
  listen(address: MetricsAddress): Promise<number> {
    return new Promise((resolve, reject) => {
      const where = address.kind === 'unix' ? `unix:${address.path}` : `${address.host}:${address.port}`;
      this.server.once('error', (err: NodeJS.ErrnoException) => reject(new ConfigError(`--metrics-bind: cannot listen on ${where} (${err.code ?? err.message})`)));
      const done = (): void => {
        const info = this.server.address();
        resolve(info && typeof info !== 'string' ? info.port : 0);
      };
      if (address.kind === 'unix') this.server.listen(address.path, done);
      else this.server.listen({ host: address.host, port: address.port, ipv6Only: address.host.includes(':') }, done);
    });
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, PROMETHEUS_TYPE, 'GET or HEAD only\n', { Allow: 'GET, HEAD' });
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') return this.send(res, 200, PROMETHEUS_TYPE, 'ok\n');
    if (path === '/readyz') return (await this.view.ready()) ? this.send(res, 200, PROMETHEUS_TYPE, 'ready\n') : this.send(res, 503, PROMETHEUS_TYPE, 'not ready\n');
    if (path === '/metrics') {
      const open = wantsOpenMetrics(req.headers.accept);
      return this.send(res, 200, open ? OPENMETRICS_TYPE : PROMETHEUS_TYPE, render(await this.view.read(), open));
    }
    this.send(res, 404, PROMETHEUS_TYPE, 'not found: /metrics, /healthz, /readyz\n');
  }

  private send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }
}

/** The whole exposition of one reading. */
export function render(reading: MetricsReading, openMetrics: boolean): string {
  const out = new Exposition(openMetrics);
  const { requests: stats } = reading;
  const requests: Array<[Record<string, string>, number]> = [];
  METHODS.forEach((method, m) => STATUS_CLASSES.forEach((cls, c) => requests.push([{ method, status_class: cls }, stats.requests[m * STATUS_CLASSES.length + c] ?? 0])));
  out.counter('nodicorn_http_requests', 'HTTP requests past the request checks (a request refused by them, 4xx before any worker, is not counted), by method and status class.', requests);
  out.histogram('nodicorn_http_request_duration_seconds', 'Time from a request head to the end of its answer, in seconds.', DURATION_BUCKETS, stats.durationBuckets, stats.durationSum, stats.durationCount);
  out.counter('nodicorn_http_request_body_bytes', 'Request body bytes, as their Content-Length declared them.', [[{}, stats.bytesIn]]);
  out.counter('nodicorn_http_response_body_bytes', 'Response body bytes written.', [[{}, stats.bytesOut]]);
  out.gauge('nodicorn_http_requests_in_flight', 'Requests received and not yet answered.', [[{}, stats.inflight]]);
  out.gauge('nodicorn_queue_depth', 'Requests waiting for a free worker thread.', [[{}, reading.queued]]);
  out.counter('nodicorn_queue_rejections', 'Requests answered 503 because the queue (--backlog) was full.', [[{}, reading.rejected]]);
  const { workers } = reading;
  out.gauge('nodicorn_workers', 'Worker processes, by state.', WORKER_STATES.map((state) => [{ state }, workers.filter((w) => w.state === state).length]));
  out.counter('nodicorn_worker_restarts', 'Workers replaced, by reason.', Object.entries(reading.restarts).map(([reason, n]) => [{ reason }, n]));
  const rss: Array<[Record<string, number>, number]> = [];
  for (const w of workers) {
    const bytes = w.state === 'dead' ? null : workerRss(w.pid);
    if (bytes !== null) rss.push([{ pid: w.pid }, bytes]);
  }
  out.gauge('nodicorn_worker_resident_memory_bytes', 'Resident memory of each worker process, in bytes (read from /proc at scrape time).', rss);
  out.gauge('nodicorn_ready', '1 while the server accepts work, 0 before its workers are up and once it stops.', [[{}, reading.ready ? 1 : 0]]);
  if (reading.frontends) {
    const { answered, silent } = reading.frontends;
    out.gauge('nodicorn_frontends', 'Front-end processes, by whether they answered this scrape in time (a silent one is left out of the gauges; its counters keep the values it last gave).', [
      [{ state: 'answered' }, answered],
      [{ state: 'silent' }, silent],
    ]);
  }
  writeNodeProcesses(out, reading.processes);
  return out.text();
}
