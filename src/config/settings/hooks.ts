/**
 * gunicorn's server hooks: functions a Python config file defines (no flag, no env var). The
 * config loader reports which ones the file defines; Python processes call them.
 */
import { hook } from '../define';

/** Where the per-worker arbiter-side hooks run with several front ends (frontends/supervisor.ts). */
const FRONTEND_SIDE =
  " With several --frontends, in the hook host of the worker's front end; its server is still the whole server's " +
  "(server.pid the master's, server.num_workers and cfg.workers every front end's).";

export const HOOKS = {
  onStarting: hook({
    gunicorn: 'same',
    file: 'on_starting',
    signature: '(server)',
    runsIn: 'arbiter',
    doc: 'Called just before the master process is initialized.',
  }),
  onReload: hook({
    gunicorn: 'same',
    file: 'on_reload',
    signature: '(server)',
    runsIn: 'arbiter',
    doc: 'Called when the workers are reloaded (SIGHUP).',
  }),
  whenReady: hook({
    gunicorn: 'same',
    file: 'when_ready',
    signature: '(server)',
    runsIn: 'arbiter',
    doc: 'Called just after the server is started (the listeners are open).',
  }),
  preFork: hook({
    gunicorn: 'same',
    file: 'pre_fork',
    signature: '(server, worker)',
    runsIn: 'arbiter',
    doc: 'Called just before a worker is started.' + FRONTEND_SIDE,
  }),
  postFork: hook({
    gunicorn: 'same',
    file: 'post_fork',
    signature: '(server, worker)',
    runsIn: 'worker',
    doc: 'Called in a new worker just after it starts (seed random generators, close inherited connections).',
  }),
  postWorkerInit: hook({
    gunicorn: 'same',
    file: 'post_worker_init',
    signature: '(worker)',
    runsIn: 'worker',
    doc: 'Called in a worker after it has loaded the app.',
  }),
  workerInt: hook({
    gunicorn: {
      differs:
        'runs when the worker gets SIGQUIT (the master sends it on QUIT, as gunicorn does); a SIGINT (Ctrl-C reaches the whole process group) is left to Node, which stops gracefully',
    },
    file: 'worker_int',
    signature: '(worker)',
    runsIn: 'worker',
    doc: 'Called in a worker that received SIGINT or SIGQUIT.',
  }),
  workerAbort: hook({
    gunicorn: 'same',
    file: 'worker_abort',
    signature: '(worker)',
    runsIn: 'worker',
    doc: 'Called in a worker that received SIGABRT, as when it is killed for --timeout.',
  }),
  preExec: hook({
    gunicorn: 'same',
    file: 'pre_exec',
    signature: '(server)',
    runsIn: 'arbiter',
    doc: 'Called just before a new master process is executed (SIGUSR2).',
  }),
  preRequest: hook({
    gunicorn: 'same',
    file: 'pre_request',
    signature: '(worker, req)',
    runsIn: 'worker',
    doc: 'Called in the worker just before it runs a request.',
  }),
  postRequest: hook({
    gunicorn: 'same',
    file: 'post_request',
    signature: '(worker, req, environ[, resp])',
    runsIn: 'worker',
    doc: 'Called in the worker after it has run a request (a function of three arguments, without resp, is accepted too).',
  }),
  childExit: hook({
    gunicorn: 'same',
    file: 'child_exit',
    signature: '(server, worker)',
    runsIn: 'arbiter',
    doc: 'Called in the master just after a worker has exited.' + FRONTEND_SIDE,
  }),
  workerExit: hook({
    gunicorn: 'same',
    file: 'worker_exit',
    signature: '(server, worker)',
    runsIn: 'worker',
    doc: 'Called in a worker just before it exits.',
  }),
  nworkersChanged: hook({
    gunicorn: 'same',
    file: 'nworkers_changed',
    signature: '(server, new_value, old_value)',
    runsIn: 'arbiter',
    doc: 'Called when the number of workers changes (TTIN, TTOU); old_value is None the first time.',
  }),
  onExit: hook({
    gunicorn: 'same',
    file: 'on_exit',
    signature: '(server)',
    runsIn: 'arbiter',
    doc: 'Called just before the server exits.',
  }),
  sslContext: hook({
    gunicorn: {
      differs:
        'Node serves TLS, so the hook runs once at start and what the returned context was given is translated to ' +
        "Node's TLS options: load_cert_chain, load_verify_locations (cafile, cadata), verify_mode, minimum_version, " +
        'maximum_version, set_ciphers, set_ecdh_curve, load_dh_params. Anything else (capath, an SNI callback, ' +
        'keylog_filename, another ALPN list than --http-protocols gives) is refused at start with one line',
    },
    file: 'ssl_context',
    signature: '(config, default_ssl_context_factory)',
    runsIn: 'arbiter',
    doc: 'Returns the ssl.SSLContext to serve TLS with; default_ssl_context_factory() builds the one the settings describe. With several --frontends, once in each front end.',
  }),
} as const;
