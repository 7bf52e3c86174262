/**
 * The master's view of the whole server, for --metrics-bind and StatsD's pool gauges: it asks
 * every front end over the IPC channel and sums their answers (stats.ts). A front end that does
 * not answer within ASK_MS is left out of that answer rather than holding up the scraper.
 */
import type { PoolFigures } from '../log/statsd';
import type { MetricsReading, MetricsView } from '../ops/metrics-server';
import { nodeProcessFigures } from '../ops/process-stats';
import { allReady, FrontendTotals, type FrontendAnswer } from './stats';

/** How long a scrape waits for a front end's answer: well within a scraper's usual timeout. */
export const ASK_MS = 1_000;

/** The front ends as the view asks them (frontends/supervisor.ts's Frontends). */
export interface FrontendAsker {
  readonly count: number;
  /** Every live front end's report, or null for one silent past `timeoutMs`; `full` adds the counts and process figures. */
  ask(full: boolean, timeoutMs: number): Promise<FrontendAnswer[]>;
}

export class FrontendsView implements MetricsView {
  private readonly totals: FrontendTotals;

  constructor(
    private readonly frontends: FrontendAsker,
    /** False once the master stops: /readyz answers 503 from the first moment. */
    private readonly serving: () => boolean,
  ) {
    this.totals = new FrontendTotals(frontends.count);
  }

  async ready(): Promise<boolean> {
    if (!this.serving()) return false;
    return allReady(await this.frontends.ask(false, ASK_MS), this.frontends.count);
  }

  async read(): Promise<MetricsReading> {
    const answers = await this.frontends.ask(true, ASK_MS);
    return this.totals.reading(answers, nodeProcessFigures(), this.serving());
  }

  /** StatsD's pool: the sum, or null while a live front end is silent (a part is not the total). */
  async pool(): Promise<PoolFigures | null> {
    const answers = await this.frontends.ask(false, ASK_MS);
    if (answers.length === 0 || answers.some((a) => a.report === null)) return null;
    let workers = 0;
    let backlog = 0;
    for (const { report } of answers) {
      workers += report?.workers.length ?? 0;
      backlog += report?.queued ?? 0;
    }
    return { workers, backlog };
  }
}
