/**
 * A front end's figures as it reports them to its master (FrontendReport), and the master's
 * sum of them: one server's counters, gauges and readiness for /metrics, /readyz and StatsD.
 */
import type { MetricsReading, ServerView } from '../ops/metrics-server';
import { nodeProcessFigures, type NodeProcess, type ProcessFigures } from '../ops/process-stats';
import { DURATION_BUCKETS, METHODS, STATUS_CLASSES, type RequestCounts } from '../ops/request-stats';

/** A RequestStats snapshot in plain arrays (it travels as JSON). */
export interface RequestFigures {
  requests: number[];
  durationBuckets: number[];
  durationSum: number;
  durationCount: number;
  bytesIn: number;
  bytesOut: number;
  inflight: number;
}

/** What a front end answers its master's `stats` question with. */
export interface FrontendReport {
  /** Tells a front end from the one that took its place under the same index. */
  pid: number;
  /** Its workers are up and it is not draining. */
  ready: boolean;
  queued: number;
  rejected: number;
  workers: Array<{ pid: number; state: string }>;
  restarts: Record<string, number>;
  /** Null when it does not count requests, or the master asked for the pool alone. */
  requests: RequestFigures | null;
  /** Null when the master asked for the pool alone. */
  process: ProcessFigures | null;
}

/** What the master learnt from front end `index` this time: its report, or null if it did not answer in time. */
export interface FrontendAnswer {
  index: number;
  report: FrontendReport | null;
}

function noRequests(): RequestFigures {
  return {
    requests: new Array<number>(METHODS.length * STATUS_CLASSES.length).fill(0),
    durationBuckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
    durationSum: 0,
    durationCount: 0,
    bytesIn: 0,
    bytesOut: 0,
    inflight: 0,
  };
}

/** Adds the counts of `from` to `into`, element by element. */
export function addRequests(into: RequestFigures, from: RequestCounts): void {
  for (let i = 0; i < into.requests.length; i++) into.requests[i] = (into.requests[i] as number) + (from.requests[i] ?? 0);
  for (let i = 0; i < into.durationBuckets.length; i++) into.durationBuckets[i] = (into.durationBuckets[i] as number) + (from.durationBuckets[i] ?? 0);
  into.durationSum += from.durationSum;
  into.durationCount += from.durationCount;
  into.bytesIn += from.bytesIn;
  into.bytesOut += from.bytesOut;
  into.inflight += from.inflight;
}

/** This front end's report, read now (`server` is null until its pool exists). */
export function reportOf(server: ServerView | null, stats: RequestCounts | null, full: boolean): FrontendReport {
  let requests: RequestFigures | null = null;
  if (full && stats) addRequests((requests = noRequests()), stats);
  return {
    pid: process.pid,
    ready: server?.ready() ?? false,
    queued: server?.queued() ?? 0,
    rejected: server?.rejected() ?? 0,
    workers: server ? server.workers().map(({ pid, state }) => ({ pid, state })) : [],
    restarts: server ? { ...server.restarts() } : {},
    requests,
    process: full ? nodeProcessFigures() : null,
  };
}

/** The counters of a report: what must never go back in a sum. */
interface Counters {
  requests: RequestFigures;
  rejected: number;
  restarts: Record<string, number>;
}

/** Adds the counters of `from`: a report, or counters summed before. */
function addCounters(into: Counters, from: { requests: RequestCounts | null; rejected: number; restarts: Readonly<Record<string, number>> }): void {
  if (from.requests) addRequests(into.requests, from.requests);
  into.rejected += from.rejected;
  for (const [reason, n] of Object.entries(from.restarts)) into.restarts[reason] = (into.restarts[reason] ?? 0) + n;
}

function noCounters(): Counters {
  return { requests: noRequests(), rejected: 0, restarts: {} };
}

/**
 * The master's sum of its front ends' reports. Counters are summed over every front end's last
 * full report, and a front end replaced (a new pid under its index) leaves its last counts
 * behind, so a sum never goes back: Prometheus would read a drop as a reset. Gauges (in flight,
 * queue, workers) and the processes are those of the front ends that answered this time.
 */
export class FrontendTotals {
  private readonly last = new Map<number, FrontendReport>();
  private readonly retired = noCounters();

  constructor(private readonly count: number) {}

  /** One scrape's reading from full answers; `master` is the master's own process, `serving` false once it stops. */
  reading(answers: readonly FrontendAnswer[], master: ProcessFigures, serving: boolean): MetricsReading {
    const answered = answers.flatMap((a) => (a.report ? [{ index: a.index, report: a.report }] : []));
    for (const { index, report } of answered) {
      const before = this.last.get(index);
      if (before && before.pid !== report.pid) addCounters(this.retired, before);
      this.last.set(index, report);
    }
    const total = noCounters();
    addCounters(total, this.retired);
    for (const report of this.last.values()) addCounters(total, report);
    total.requests.inflight = answered.reduce((n, a) => n + (a.report.requests?.inflight ?? 0), 0);
    const processes: NodeProcess[] = [{ labels: { process: 'master' }, figures: master }];
    for (const { index, report } of answered) if (report.process) processes.push({ labels: { process: `frontend-${index}` }, figures: report.process });
    return {
      ready: serving && allReady(answers, this.count),
      queued: answered.reduce((n, a) => n + a.report.queued, 0),
      rejected: total.rejected,
      workers: answered.flatMap((a) => a.report.workers),
      restarts: total.restarts,
      requests: total.requests,
      processes,
      frontends: { answered: answered.length, silent: this.count - answered.length },
    };
  }
}

/** Every one of the `count` front ends answered, and each is ready (workers up, not draining). */
export function allReady(answers: readonly FrontendAnswer[], count: number): boolean {
  return answers.length === count && answers.every((a) => a.report?.ready === true);
}
