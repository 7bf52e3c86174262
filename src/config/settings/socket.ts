/** Where the server listens. */
import { many, one, type DefaultContext } from '../define';
import * as P from '../parsers';
import { UWSGI_BIND } from './uwsgi';

/** gunicorn's default: PORT (as set by Heroku-style platforms) on all interfaces, else local 8000. */
function bindFromPort(ctx: DefaultContext): string[] {
  const port = ctx.read('PORT');
  if (port === undefined) return ['127.0.0.1:8000'];
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new P.Invalid('a port number (0-65535)');
  return [`0.0.0.0:${port}`];
}

export const SOCKET = {
  bind: many<string>({
    section: 'Server Socket',
    gunicorn: 'same',
    flags: ['-b', '--bind'],
    aliases: [UWSGI_BIND],
    metavar: 'ADDRESS',
    file: 'bind',
    parser: P.bind,
    default: bindFromPort,
    defaultDoc: "'0.0.0.0:$PORT' if PORT is set, else '127.0.0.1:8000'",
    doc:
      'The socket to listen on: HOST:PORT, [IPv6]:PORT, :PORT (all interfaces), HOST (port 8000), ' +
      'unix:PATH or fd://N. Repeat the flag to listen on several; port 0 picks a free port. ' +
      'In NODICORN_BIND several addresses are separated by spaces.',
  }),
  backlog: one<number>({
    section: 'Server Socket',
    gunicorn: { differs: 'Also bounds the queue of requests waiting for a free worker: past it, 503.' },
    flags: ['--backlog'],
    metavar: 'INT',
    file: 'backlog',
    parser: P.positiveInt,
    default: 2048,
    doc:
      'The most connections waiting to be accepted (the listen backlog), and the bound of the queue of ' +
      'requests waiting for a free worker: past it, requests are answered 503.',
  }),
} as const;
