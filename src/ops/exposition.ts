/**
 * The text a scraper reads: Prometheus' text format 0.0.4, or OpenMetrics 1.0 when the scraper's
 * Accept asks for it. The two differ for counters (OpenMetrics names the family without `_total`
 * and the samples with it), in their Content-Type, and in OpenMetrics' closing `# EOF`.
 */

export const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Whether the scraper's Accept header prefers OpenMetrics (Prometheus sends it first when it can parse it). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('application/openmetrics-text');
}

export type Labels = Readonly<Record<string, string | number>>;

export class Exposition {
  private readonly out: string[] = [];

  constructor(readonly openMetrics: boolean) {}

  /** A counter family; `name` without `_total`. */
  counter(name: string, help: string, samples: ReadonlyArray<readonly [Labels, number]>): void {
    this.family(this.openMetrics ? name : `${name}_total`, 'counter', help);
    for (const [labels, value] of samples) this.sample(`${name}_total`, labels, value);
  }

  gauge(name: string, help: string, samples: ReadonlyArray<readonly [Labels, number]>): void {
    this.family(name, 'gauge', help);
    for (const [labels, value] of samples) this.sample(name, labels, value);
  }

  /** `counts[i]`: observations that fell in bucket i alone (the last is +Inf); they are summed here. */
  histogram(name: string, help: string, bounds: readonly number[], counts: ArrayLike<number>, sum: number, count: number): void {
    this.family(name, 'histogram', help);
    let cumulative = 0;
    for (let i = 0; i <= bounds.length; i++) {
      cumulative += counts[i] ?? 0;
      this.sample(`${name}_bucket`, { le: i < bounds.length ? number(bounds[i] as number) : '+Inf' }, cumulative);
    }
    this.sample(`${name}_sum`, {}, sum);
    this.sample(`${name}_count`, {}, count);
  }

  text(): string {
    return this.out.join('') + (this.openMetrics ? '# EOF\n' : '');
  }

  private family(name: string, type: string, help: string): void {
    this.out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`);
  }

  private sample(name: string, labels: Labels, value: number): void {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
    this.out.push(`${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${number(value)}\n`);
  }
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
