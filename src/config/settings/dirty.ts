/**
 * gunicorn 27's dirty arbiters (long-running task workers beside the HTTP ones) and its control
 * socket. nodicorn has neither: an app that needs dirty workers is refused, the tuning is accepted.
 */
import { flag, hook, many, one } from '../define';
import * as G from '../gunicorn-parsers';
import * as P from '../parsers';

const DIRTY = 'nodicorn has no dirty arbiter; run such tasks in a separate process or task queue';
const NO_DIRTY = 'it only tunes dirty workers, and nodicorn has no dirty arbiter';
const CONTROL = 'nodicorn has no control socket (gunicornc cannot drive it); send signals to the master instead (HUP, TTIN, TTOU, USR1)';

export const DIRTY_SETTINGS = {
  dirtyApps: many<string>({
    section: 'Dirty Arbiters',
    gunicorn: { refused: DIRTY },
    flags: ['--dirty-app'],
    metavar: 'STRING',
    file: 'dirty_apps',
    parser: P.text,
    default: [],
    doc: 'gunicorn\u2019s dirty applications. Refused: ' + DIRTY + '.',
  }),
  dirtyWorkers: one<number>({
    section: 'Dirty Arbiters',
    gunicorn: { refused: DIRTY },
    flags: ['--dirty-workers'],
    metavar: 'INT',
    file: 'dirty_workers',
    parser: P.nonNegativeInt,
    default: 0,
    doc: 'gunicorn\u2019s number of dirty workers. Only 0 is accepted: ' + DIRTY + '.',
  }),
  dirtyTimeout: one<number>({
    section: 'Dirty Arbiters',
    gunicorn: { noEffect: NO_DIRTY },
    flags: ['--dirty-timeout'],
    metavar: 'INT',
    file: 'dirty_timeout',
    parser: P.nonNegativeInt,
    default: 300,
    doc: 'gunicorn\u2019s dirty task timeout. Accepted with a warning: ' + DIRTY + '.',
  }),
  dirtyThreads: one<number>({
    section: 'Dirty Arbiters',
    gunicorn: { noEffect: NO_DIRTY },
    flags: ['--dirty-threads'],
    metavar: 'INT',
    file: 'dirty_threads',
    parser: P.positiveInt,
    default: 1,
    doc: 'gunicorn\u2019s threads per dirty worker. Accepted with a warning: ' + DIRTY + '.',
  }),
  dirtyGracefulTimeout: one<number>({
    section: 'Dirty Arbiters',
    gunicorn: { noEffect: NO_DIRTY },
    flags: ['--dirty-graceful-timeout'],
    metavar: 'INT',
    file: 'dirty_graceful_timeout',
    parser: P.nonNegativeInt,
    default: 30,
    doc: 'gunicorn\u2019s graceful shutdown time for dirty workers. Accepted with a warning: ' + DIRTY + '.',
  }),
  onDirtyStarting: hook({
    section: 'Dirty Arbiters',
    gunicorn: { noEffect: `never called: ${DIRTY}` },
    file: 'on_dirty_starting',
    signature: '(arbiter)',
    runsIn: 'arbiter',
    doc: 'gunicorn\u2019s hook as the dirty arbiter starts. Never called here: ' + DIRTY + '.',
  }),
  dirtyPostFork: hook({
    section: 'Dirty Arbiters',
    gunicorn: { noEffect: `never called: ${DIRTY}` },
    file: 'dirty_post_fork',
    signature: '(arbiter, worker)',
    runsIn: 'worker',
    doc: 'gunicorn\u2019s hook after a dirty worker starts. Never called here: ' + DIRTY + '.',
  }),
  dirtyWorkerInit: hook({
    section: 'Dirty Arbiters',
    gunicorn: { noEffect: `never called: ${DIRTY}` },
    file: 'dirty_worker_init',
    signature: '(worker)',
    runsIn: 'worker',
    doc: 'gunicorn\u2019s hook after a dirty worker loads its apps. Never called here: ' + DIRTY + '.',
  }),
  dirtyWorkerExit: hook({
    section: 'Dirty Arbiters',
    gunicorn: { noEffect: `never called: ${DIRTY}` },
    file: 'dirty_worker_exit',
    signature: '(arbiter, worker)',
    runsIn: 'worker',
    doc: 'gunicorn\u2019s hook as a dirty worker exits. Never called here: ' + DIRTY + '.',
  }),
  controlSocket: one<string | null>({
    section: 'Control',
    gunicorn: { noEffect: CONTROL },
    flags: ['--control-socket'],
    metavar: 'PATH',
    file: 'control_socket',
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: 'none (gunicorn: ~/.gunicorn/gunicorn.ctl)',
    doc: 'gunicorn\u2019s control socket for gunicornc. Accepted with a warning: ' + CONTROL + '.',
  }),
  controlSocketMode: one<number>({
    section: 'Control',
    gunicorn: { noEffect: CONTROL },
    flags: ['--control-socket-mode'],
    metavar: 'INT',
    file: 'control_socket_mode',
    parser: G.intBase0,
    default: 384,
    defaultDoc: '384 (0o600)',
    doc: 'The permissions of gunicorn\u2019s control socket. Accepted with a warning: ' + CONTROL + '.',
  }),
  controlSocketDisable: flag({
    section: 'Control',
    gunicorn: { differs: 'there is never a control socket, so this is always true in effect.' },
    flags: ['--no-control-socket'],
    file: 'control_socket_disable',
    default: false,
    doc: 'Do not open gunicorn\u2019s control socket. nodicorn never opens one, so this changes nothing.',
  }),
} as const;
