/** nodicorn's own tuning of how requests reach the workers and what parses HTTP/1.1. */
import { one } from '../define';
import * as P from '../parsers';
import type { Parser } from '../parsers';

/** --frontends: "auto" or how many. */
const frontendCount: Parser<number | 'auto'> = {
  expected: 'auto or a positive integer',
  parse(raw) {
    return raw.trim().toLowerCase() === 'auto' ? 'auto' : P.positiveInt.parse(raw);
  },
};

export const DISPATCH = {
  frontends: one<number | 'auto'>({
    section: 'Worker Processes',
    gunicorn: 'nodicorn',
    flags: ['--frontends'],
    metavar: 'N',
    file: 'frontends',
    parser: frontendCount,
    default: 'auto',
    doc:
      'How many Node front-end processes accept connections, each with its own share of the --workers ' +
      '(split as evenly as they go; a front end never has none). One Node process runs its JavaScript on one ' +
      'core, so on a big machine one front end becomes the ceiling. auto is one front end per four cores the ' +
      'workers can use (the smaller of --workers and the cores), at least one: a Flask view costs a worker about ' +
      'four times what it costs the front end (README, "Several front ends"). With 1 there is no extra process: ' +
      'the master is the front end. With more, the master binds the listeners, owns the log files, answers the ' +
      'signals and replaces a front end that dies, with its workers. --backlog, --worker-connections and the ' +
      'spool limits are split between the front ends.',
  }),
  prefetch: one<number>({
    section: 'Worker Processes',
    gunicorn: 'nodicorn',
    flags: ['--prefetch'],
    metavar: 'INT',
    file: 'prefetch',
    parser: P.nonNegativeInt,
    default: 4,
    doc:
      'How many requests per thread may always wait inside a busy worker, beyond the one each thread runs. ' +
      'It only applies when every worker is busy: then requests travel to the workers in batches, one pipe ' +
      'write for many, which roughly triples throughput under load. A worker that answers quickly may hold ' +
      'more (see --prefetch-time). 0 keeps every waiting request in Node\'s queue, where the next free worker ' +
      'takes it, and turns --prefetch-time off too. If the worker dies or is killed for --timeout, the ' +
      'requests it held behind the failed one are dispatched again (with --threads 1 and no request body; ' +
      'otherwise they may have started, and get 502).',
  }),
  prefetchTime: one<number>({
    section: 'Worker Processes',
    gunicorn: 'nodicorn',
    flags: ['--prefetch-time'],
    metavar: 'MS',
    file: 'prefetch_time',
    parser: P.milliseconds,
    default: 5,
    doc:
      'A busy worker that answers quickly may hold more requests than --prefetch: as many as its recent ' +
      'answers say it gets through in this many milliseconds, up to 32 per thread. Deeper batches cost less ' +
      'per request: on one core, the hello app and a Flask JSON view used a quarter to a third less CPU per request ' +
      'than at a fixed 4. The price is the wait of a request ' +
      'prefetched behind a slow one: it waits for it even when another worker is free. The depth drops back ' +
      'to --prefetch as soon as one slow answer shows, and with the defaults a worker whose answers take more ' +
      'than a millisecond each stays at --prefetch. 0 keeps every worker at --prefetch.',
  }),
  httpEngine: one<'node' | 'lean'>({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--http-engine'],
    metavar: 'ENGINE',
    file: 'http_engine',
    parser: P.choice(['node', 'lean'] as const),
    default: 'lean',
    doc:
      'What serves HTTP/1.1, plain or over TLS. lean feeds Node\u2019s own llhttp parser (the one node:http uses) ' +
      'straight from the socket, with light request and response objects: the same bytes on the wire as node:http, ' +
      'for about a tenth less CPU per small request. node serves through node:http (node:https) itself. lean needs a ' +
      'Node major whose parser binding it was checked on (20, 22, 24 and 26); on others node:http serves. A TLS listener that offers ' +
      'HTTP/2 (--http-protocols with h2) is node:http2\u2019s, HTTP/1.1 on it included.',
  }),
} as const;
