/** The Python worker processes: how many, of which class, how long they and their requests live. */
import { one, type DefaultContext } from '../define';
import { Invalid, type Parser } from '../parsers';
import { Refused } from '../gunicorn-parsers';
import * as P from '../parsers';
import { UWSGI_WORKERS } from './uwsgi';

function workersFromEnv(ctx: DefaultContext): number {
  const n = ctx.read('WEB_CONCURRENCY');
  return n === undefined ? 1 : P.positiveInt.parse(n);
}

export type WorkerClass = 'sync' | 'gthread';

/** gunicorn's names for the classes nodicorn runs, by short name, class path and egg entry point. */
const SAME_AS: Readonly<Record<string, WorkerClass>> = {
  sync: 'sync',
  gthread: 'gthread',
  'gunicorn.workers.sync.syncworker': 'sync',
  'gunicorn.workers.gthread.threadworker': 'gthread',
  'egg:gunicorn#sync': 'sync',
  'egg:gunicorn#gthread': 'gthread',
};

const INSTEAD = 'use -k gthread --threads N (Node already keeps slow clients and idle connections off the worker threads)';

/** Asynchronous worker classes nodicorn does not have, matched on the short name or class path. */
function refusal(word: string): string | undefined {
  if (/gevent|ggevent/.test(word)) return `nodicorn has no gevent worker; ${INSTEAD}`;
  if (/eventlet/.test(word)) return `nodicorn has no eventlet worker; ${INSTEAD}`;
  if (/tornado/.test(word)) return `nodicorn has no tornado worker; ${INSTEAD}`;
  if (/uvicorn|asgi|gasgi/.test(word)) {
    return `nodicorn serves WSGI apps only; use uvicorn or hypercorn for an ASGI app, or -k gthread for its WSGI form`;
  }
  return undefined;
}

const workerClass: Parser<WorkerClass> = {
  expected: 'sync or gthread (or gunicorn\u2019s class path for either)',
  parse(raw) {
    const word = raw.trim().toLowerCase();
    const same = SAME_AS[word];
    if (same !== undefined) return same;
    const reason = refusal(word);
    if (reason !== undefined) throw new Refused(reason);
    if (/^[\w.:#]+$/.test(word)) {
      throw new Refused(`nodicorn runs its own workers and cannot load a custom worker class; use -k sync or -k gthread`);
    }
    throw new Invalid();
  },
};

export const WORKERS = {
  workers: one<number>({
    section: 'Worker Processes',
    gunicorn: 'same',
    flags: ['-w', '--workers'],
    aliases: [UWSGI_WORKERS],
    metavar: 'INT',
    file: 'workers',
    parser: P.positiveInt,
    default: workersFromEnv,
    defaultDoc: '$WEB_CONCURRENCY if set, else 1',
    doc: 'The number of Python worker processes. Two to four per core is a common start.',
  }),
  workerClass: one<WorkerClass>({
    section: 'Worker Processes',
    gunicorn: {
      differs:
        'sync and gthread are accepted and run the same way (Node holds the connections, each worker runs --threads requests at once); ' +
        'gevent, eventlet, tornado, asgi and uvicorn workers are refused with what to use instead.',
    },
    flags: ['-k', '--worker-class'],
    metavar: 'STRING',
    file: 'worker_class',
    parser: workerClass,
    default: 'sync',
    doc:
      'The worker type, as gunicorn names it: sync or gthread (also by class path, gunicorn.workers.sync.SyncWorker). ' +
      'Both run the app in Python worker processes with --threads threads each, while Node holds every client ' +
      'connection, so slow clients and keep-alive never tie up a thread; as in gunicorn, sync with --threads above 1 ' +
      'is reported as gthread. Asynchronous classes (gevent, eventlet, tornado, asgi, uvicorn) are refused: nodicorn serves WSGI only.',
  }),
  threads: one<number>({
    section: 'Worker Processes',
    gunicorn: 'same',
    flags: ['--threads'],
    metavar: 'INT',
    file: 'threads',
    parser: P.positiveInt,
    default: 1,
    doc: 'The number of threads in each worker, each handling one request at a time.',
  }),
  workerConnections: one<number>({
    section: 'Worker Processes',
    gunicorn: { differs: 'Counted over the whole server, not per worker (Node holds every connection); past it, 503.' },
    flags: ['--worker-connections'],
    metavar: 'INT',
    file: 'worker_connections',
    parser: P.nonNegativeInt,
    default: 1000,
    doc:
      'The most client connections open at once, over all listeners, idle keep-alive ones included. ' +
      'Past it a new connection is answered 503 at once and closed; the open ones are still served. ' +
      'gunicorn counts this per worker; here Node holds every connection, so it is per server. 0 means no cap.',
  }),
  maxRequests: one<number>({
    section: 'Worker Processes',
    gunicorn: 'same',
    flags: ['--max-requests'],
    metavar: 'INT',
    file: 'max_requests',
    parser: P.nonNegativeInt,
    default: 0,
    doc: 'Restart a worker after it has served this many requests, to bound slow leaks. 0 means never.',
  }),
  maxRequestsJitter: one<number>({
    section: 'Worker Processes',
    gunicorn: 'same',
    flags: ['--max-requests-jitter'],
    metavar: 'INT',
    file: 'max_requests_jitter',
    parser: P.nonNegativeInt,
    default: 0,
    doc: 'Add a random 0..N to --max-requests for each worker, so workers do not all restart at once.',
  }),
  timeout: one<number>({
    section: 'Worker Processes',
    gunicorn: { differs: 'Counted per request: the request gets 504 and its worker is replaced (gunicorn: a worker silent for this long is killed).' },
    flags: ['-t', '--timeout'],
    metavar: 'SECONDS',
    file: 'timeout',
    parser: P.seconds,
    default: 30,
    doc:
      'A request running longer than this gets its worker killed and restarted, and its client a 504. ' +
      '0 means no timeout.',
  }),
  gracefulTimeout: one<number>({
    section: 'Worker Processes',
    gunicorn: 'same',
    flags: ['--graceful-timeout'],
    metavar: 'SECONDS',
    file: 'graceful_timeout',
    parser: P.seconds,
    default: 30,
    doc: 'On shutdown or reload, how long workers may finish their requests before they are killed.',
  }),
  keepAlive: one<number>({
    section: 'Worker Processes',
    gunicorn: 'same',
    flags: ['--keep-alive'],
    metavar: 'SECONDS',
    file: 'keepalive',
    parser: P.seconds,
    default: 2,
    doc:
      'How long an idle keep-alive connection waits for its next request (node:http allows up to a second ' +
      'more). 0 closes the connection after each response.',
  }),
  python: one<string | null>({
    section: 'Worker Processes',
    gunicorn: 'nodicorn',
    flags: ['--python'],
    metavar: 'PATH',
    file: 'python',
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: 'the pip launcher\'s Python, else $VIRTUAL_ENV, else .venv or venv in the start directory, then in --chdir, else python3 or python',
    doc:
      'The Python interpreter that runs the workers (and evaluates a Python config file). By default, the first ' +
      'that exists: the Python nodicorn was pip-installed into (when started by that install\'s `nodicorn` ' +
      'or `python -m nodicorn`), the active virtualenv ($VIRTUAL_ENV), `.venv` then `venv` in the directory ' +
      'nodicorn starts in, the same two in --chdir, then python3 or python on PATH. The choice and why are ' +
      'logged at startup. A relative path is read from the directory nodicorn starts in, not from --chdir.',
  }),
  asgiLoop: one<string>({
    section: 'Worker Processes',
    gunicorn: { noEffect: 'nodicorn serves WSGI only; there is no ASGI event loop (-k asgi is refused).' },
    flags: ['--asgi-loop'],
    metavar: 'STRING',
    file: 'asgi_loop',
    parser: P.choice(['auto', 'asyncio', 'uvloop'] as const),
    default: 'auto',
    doc: 'gunicorn\u2019s event loop for its ASGI worker (auto, asyncio or uvloop). Accepted for compatibility; nodicorn serves WSGI only.',
  }),
  asgiLifespan: one<string>({
    section: 'Worker Processes',
    gunicorn: { noEffect: 'nodicorn serves WSGI only; there is no ASGI lifespan (-k asgi is refused).' },
    flags: ['--asgi-lifespan'],
    metavar: 'STRING',
    file: 'asgi_lifespan',
    parser: P.choice(['auto', 'on', 'off'] as const),
    default: 'auto',
    doc: 'gunicorn\u2019s ASGI lifespan protocol mode (auto, on or off). Accepted for compatibility; nodicorn serves WSGI only.',
  }),
  asgiDisconnectGracePeriod: one<number>({
    section: 'Worker Processes',
    gunicorn: { noEffect: 'nodicorn serves WSGI only; there are no ASGI tasks to wait for (-k asgi is refused).' },
    flags: ['--asgi-disconnect-grace-period'],
    metavar: 'INT',
    file: 'asgi_disconnect_grace_period',
    parser: P.nonNegativeInt,
    default: 3,
    doc: 'gunicorn\u2019s wait for ASGI tasks after a client disconnects, in seconds. Accepted for compatibility; nodicorn serves WSGI only.',
  }),
  websocketMaxMessageSize: one<number>({
    section: 'Worker Processes',
    gunicorn: { noEffect: 'nodicorn serves WSGI only, without WebSocket support (-k asgi is refused).' },
    flags: ['--websocket-max-message-size'],
    metavar: 'INT',
    file: 'websocket_max_message_size',
    parser: P.nonNegativeInt,
    default: 16777216,
    doc: 'gunicorn\u2019s largest WebSocket message for its ASGI worker, in bytes. Accepted for compatibility; nodicorn serves WSGI only.',
  }),
  httpParser: one<string>({
    section: 'Worker Processes',
    gunicorn: { noEffect: 'Node\u2019s llhttp parses every request; there is no Python parser to choose.' },
    flags: ['--http-parser'],
    metavar: 'STRING',
    file: 'http_parser',
    parser: P.choice(['auto', 'fast', 'python'] as const),
    default: 'auto',
    doc: 'gunicorn\u2019s choice of HTTP parser (auto, fast or python). Accepted for compatibility: Node\u2019s llhttp parses every request here (see --http-engine).',
  }),
} as const;
