/** nodicorn's own worker recycling: by resident memory and by age, as --max-requests is by count. */
import { one } from '../define';
import * as P from '../parsers';

export const RECYCLING = {
  workersMaxRss: one<number>({
    section: 'Worker Processes',
    gunicorn: 'nodicorn',
    flags: ['--workers-max-rss'],
    metavar: 'MiB',
    file: 'workers_max_rss',
    parser: P.nonNegativeInt,
    default: 0,
    doc:
      'Replace a worker whose resident memory (RSS) is over this many MiB: it gets no new request, finishes the ones ' +
      'it holds and exits, and a new worker takes its place, as with --max-requests. The master reads each ' +
      "worker's RSS from /proc once a second (never per request); where there is no /proc it warns at startup and " +
      'has no effect. 0 means no limit.',
  }),
  workersLifetime: one<number>({
    section: 'Worker Processes',
    gunicorn: 'nodicorn',
    flags: ['--workers-lifetime'],
    metavar: 'SECONDS',
    file: 'workers_lifetime',
    parser: P.seconds,
    default: 0,
    doc:
      'Replace a worker once it has run this many seconds (plus its --workers-lifetime-jitter), the way ' +
      "--max-requests does: nothing it holds is dropped. Checked once a second. granian's --workers-lifetime. 0 means never.",
  }),
  workersLifetimeJitter: one<number>({
    section: 'Worker Processes',
    gunicorn: 'nodicorn',
    flags: ['--workers-lifetime-jitter'],
    metavar: 'SECONDS',
    file: 'workers_lifetime_jitter',
    parser: P.seconds,
    default: 0,
    doc: 'Add a random 0..N seconds to --workers-lifetime for each worker, so workers do not all restart at once.',
  }),
};
