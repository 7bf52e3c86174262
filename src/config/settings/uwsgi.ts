/**
 * uWSGI's spellings, so a uWSGI command line such as `uwsgi --http :8051 --wsgi-file app.py`
 * runs as `nodicorn --http :8051 --wsgi-file app.py`: the flags that name a gunicorn setting are
 * aliases on that setting (bind, app, workers); the two with no gunicorn counterpart are settings
 * of their own here. uWSGI's -p (processes) is not taken: it is gunicorn's --pid.
 */
import { ConfigError } from '../../errors';
import { flag, one, type Alias } from '../define';
import * as P from '../parsers';

/**
 * uWSGI's socket address: HOST:PORT, :PORT on all interfaces (as nodicorn's --bind), and a
 * name without a colon is a UNIX socket path.
 */
export function uwsgiAddress(raw: string): string {
  return raw.includes(':') ? raw : `unix:${raw}`;
}

/** uWSGI loads --wsgi-file by path whatever its suffix (app.wsgi): a bare name becomes ./NAME. */
export function uwsgiFile(raw: string): string {
  return raw.includes('/') ? raw : `./${raw}`;
}

/** The app spec with --callable's name; an app that names its own attribute keeps it, with an error. */
export function withCallable(app: string, callable: string): string {
  // A Windows drive letter ("C:\\app.py") is not the module/attribute separator.
  const start = /^[A-Za-z]:[\\/]/.test(app) ? 2 : 0;
  if (app.indexOf(':', start) >= 0) {
    throw new ConfigError(`--callable: expected an app without its own :NAME, got ${JSON.stringify(app)} and --callable ${callable}`);
  }
  return `${app}:${callable}`;
}

export const UWSGI_BIND: Alias = { flags: ['--http', '--http-socket'], from: 'uWSGI', rewrite: uwsgiAddress };
export const UWSGI_APP: Alias[] = [
  { flags: ['--wsgi-file'], from: 'uWSGI', rewrite: uwsgiFile },
  { flags: ['--module'], from: 'uWSGI' },
];
export const UWSGI_WORKERS: Alias = { flags: ['--processes'], from: 'uWSGI' };

export const UWSGI = {
  callable: one<string | null>({
    section: 'Application',
    gunicorn: 'nodicorn',
    flags: ['--callable'],
    metavar: 'NAME',
    file: 'callable',
    nullable: true,
    parser: P.pythonName,
    default: null,
    defaultDoc: "none (the app's own :NAME, else application)",
    doc:
      'uWSGI\u2019s --callable: the name of the app in the --wsgi-file, --module or APP_MODULE that does not ' +
      'name one itself (app.py with --callable app is app.py:app).',
  }),
  master: flag({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--master'],
    file: 'master',
    default: false,
    doc:
      'uWSGI\u2019s --master, accepted so its command lines run unchanged. It changes nothing: nodicorn always ' +
      'runs a master process that supervises the workers.',
  }),
} as const;
