/**
 * What the front end counts per request, for /metrics: requests by method and status class, a
 * duration histogram, body bytes in and out, and requests in flight. The request path only adds
 * to numbers in typed arrays (no allocation, no labels built, no map lookup); the labels and the
 * text are made at scrape time (exposition.ts).
 */

/** The methods counted apart; any other is counted as "other". */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'other'] as const;
/** Status classes 1xx to 5xx. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** Upper bounds of the duration histogram's buckets, in seconds (+Inf is implied). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

function methodIndex(method: string | undefined): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'DELETE':
      return 4;
    case 'PATCH':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return 7;
  }
}

/** What a scrape reads of the counts: a RequestStats, or the sum of several front ends'. */
export interface RequestCounts {
  readonly requests: ArrayLike<number>;
  readonly durationBuckets: ArrayLike<number>;
  readonly durationSum: number;
  readonly durationCount: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly inflight: number;
}

export class RequestStats implements RequestCounts {
  /** [method * 5 + class]: requests answered. */
  readonly requests = new Float64Array(METHODS.length * STATUS_CLASSES.length);
  /** Cumulative counts per bucket are made at scrape; here, the count that fell in each (last: +Inf). */
  readonly durationBuckets = new Float64Array(DURATION_BUCKETS.length + 1);
  durationSum = 0;
  durationCount = 0;
  /** Request body bytes as their Content-Length declared them (a chunked body counts at 0). */
  bytesIn = 0;
  /** Response body bytes written. */
  bytesOut = 0;
  /** Requests received and not yet answered (or given up by their client). */
  inflight = 0;

  started(): void {
    this.inflight++;
  }

  /** A request whose client left before it was dispatched or answered: no longer in flight, not counted. */
  left(): void {
    this.inflight--;
  }

  /** A request's end: its answer's status (0: none), how long it took, and its body sizes. */
  ended(method: string | undefined, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    this.inflight--;
    const cls = Math.min(5, Math.max(1, Math.floor(status / 100)));
    const k = methodIndex(method) * STATUS_CLASSES.length + cls - 1;
    this.requests[k] = (this.requests[k] as number) + 1;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[i] as number)) i++;
    this.durationBuckets[i] = (this.durationBuckets[i] as number) + 1;
    this.durationSum += seconds;
    this.durationCount++;
    if (bytesIn > 0) this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
  }
}
