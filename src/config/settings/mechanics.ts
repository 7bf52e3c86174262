/** How the server process runs: preload, daemon, user and group, files it writes, where the app lives. */
import { flag, many, one } from '../define';
import * as G from '../gunicorn-parsers';
import * as P from '../parsers';

const PASTE = 'nodicorn loads the app as module:callable, not from a PasteDeploy .ini file; point APP_MODULE at a module that calls paste.deploy.loadapp()';

export const MECHANICS = {
  preloadApp: flag({
    section: 'Server Mechanics',
    gunicorn: 'same',
    flags: ['--preload'],
    file: 'preload_app',
    default: false,
    doc:
      'Import the app once before the workers start, so they share its memory copy-on-write and an import error ' +
      'stops startup at once. Code that must run in each worker (opening connections) belongs in post_fork.',
  }),
  sendfile: flag({
    section: 'Server Mechanics',
    gunicorn: 'same',
    flags: ['--no-sendfile'],
    negative: true,
    file: 'sendfile',
    default: true,
    defaultDoc: 'true (--no-sendfile turns it off)',
    doc:
      'A regular file an app returns through wsgi.file_wrapper is read from disk by the Node process (the worker ' +
      'sends only its name and range). --no-sendfile makes the worker read it and send its bytes through the pipe.',
  }),
  reusePort: flag({
    section: 'Server Mechanics',
    gunicorn: { differs: 'needs Node 22.12+ (Node 20 cannot set SO_REUSEPORT): ignored there with a startup warning.' },
    flags: ['--reuse-port'],
    file: 'reuse_port',
    default: false,
    doc: 'Set SO_REUSEPORT on the listening sockets, so several servers can bind the same port. Needs Node 22.12+; older Node warns and ignores it.',
  }),
  chdir: one<string>({
    section: 'Server Mechanics',
    gunicorn: 'same',
    flags: ['--chdir'],
    metavar: 'DIR',
    file: 'chdir',
    parser: P.path,
    default: (ctx) => ctx.cwd,
    defaultDoc: 'the current directory',
    doc: 'The directory the workers run in, and where the app is imported from.',
  }),
  daemon: flag({
    section: 'Server Mechanics',
    gunicorn: 'same',
    flags: ['-D', '--daemon'],
    file: 'daemon',
    default: false,
    doc:
      'Detach from the terminal and run in the background: the server starts again in a new session (setsid) with ' +
      'its standard streams on /dev/null (see --enable-stdio-inheritance; log to a file with --error-logfile), and ' +
      'the command exits 0 once it listens, or prints the error that stopped it and exits with its code. Unix only.',
  }),
  rawEnv: many<string>({
    section: 'Server Mechanics',
    gunicorn: 'same',
    flags: ['-e', '--env'],
    metavar: 'KEY=VALUE',
    file: 'raw_env',
    parser: P.keyValue,
    default: [],
    doc:
      'Set an environment variable for the workers. Repeat for several; in NODICORN_RAW_ENV they are ' +
      'separated by spaces (quote a value with spaces).',
  }),
  pidfile: one<string | null>({
    section: 'Server Mechanics',
    gunicorn: 'same',
    flags: ['-p', '--pid'],
    metavar: 'FILE',
    file: 'pidfile',
    nullable: true,
    parser: P.path,
    default: null,
    doc:
      'Write the server\u2019s process id (the Node process, gunicorn\u2019s master) to this file at startup, before ' +
      'binding, and remove it at a clean exit. A file naming a live process stops startup: another server runs there. ' +
      'A new master started by USR2 writes FILE.2, and renames it to FILE once the old master is gone.',
  }),
  workerTmpDir: one<string | null>({
    section: 'Server Mechanics',
    gunicorn: { noEffect: 'nodicorn keeps no heartbeat files: the Node process times its workers itself.' },
    flags: ['--worker-tmp-dir'],
    metavar: 'DIR',
    file: 'worker_tmp_dir',
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: 'none (the system temp directory)',
    doc: 'gunicorn\u2019s directory for the workers\u2019 heartbeat files. Accepted with a warning: nodicorn keeps none.',
  }),
  user: one<string | null>({
    section: 'Server Mechanics',
    gunicorn: {
      differs:
        'the Node process switches too, not only the workers (it reads every client byte); it binds, writes the pidfile and opens the logs first.',
    },
    flags: ['-u', '--user'],
    metavar: 'USER',
    file: 'user',
    nullable: true,
    parser: G.account,
    default: null,
    defaultDoc: 'none (the user nodicorn starts as)',
    doc:
      'Run as this user, by name or id, once the sockets are bound (UNIX sockets handed to it), the log files ' +
      'opened (and handed to it, so USR1 can reopen them) and the pidfile written: the Node process switches, and ' +
      'the workers it spawns run as the user from the start. Needs root.',
  }),
  group: one<string | null>({
    section: 'Server Mechanics',
    gunicorn: { differs: 'with --user and no --group, the user\u2019s primary group (gunicorn keeps root\u2019s group 0).' },
    flags: ['-g', '--group'],
    metavar: 'GROUP',
    file: 'group',
    nullable: true,
    parser: G.account,
    default: null,
    defaultDoc: 'none (with --user, that user\u2019s primary group; else the group nodicorn starts as)',
    doc: 'Run as this group, by name or id, with --user or alone (as --user says when). Needs root.',
  }),
  umask: one<number>({
    section: 'Server Mechanics',
    gunicorn: 'same',
    flags: ['-m', '--umask'],
    metavar: 'INT',
    file: 'umask',
    parser: G.intBase0,
    default: 0,
    doc:
      'The file-mode mask UNIX sockets (--bind unix:PATH) are created with, as gunicorn reads it (18, 0o22, 0x12), ' +
      'or octal with a leading zero (022). The default 0 leaves a UNIX socket connectable by a front end running as ' +
      'another user (nginx\u2019s workers); 0o007 keeps it to the server\u2019s user and group.',
  }),
  initgroups: flag({
    section: 'Server Mechanics',
    gunicorn: 'same',
    flags: ['--initgroups'],
    file: 'initgroups',
    default: false,
    doc: 'With --user, also take every supplementary group of that user (server and workers); without it they keep only the one group.',
  }),
  tmpUploadDir: one<string | null>({
    section: 'Server Mechanics',
    gunicorn: { noEffect: 'gunicorn does not use it either; request bodies past --body-buffer-size go to --spool-dir.' },
    flags: [],
    metavar: 'DIR',
    file: 'tmp_upload_dir',
    nullable: true,
    parser: P.path,
    default: null,
    doc: 'gunicorn\u2019s unused directory for request data. Accepted with a warning; see --spool-dir.',
  }),
  pythonpath: one<string[]>({
    section: 'Server Mechanics',
    gunicorn: 'same',
    flags: ['--pythonpath'],
    metavar: 'DIRS',
    file: 'pythonpath',
    parser: P.commaList,
    default: [],
    doc: 'Comma-separated directories put first on the workers\u2019 sys.path.',
  }),
  paste: one<string | null>({
    section: 'Server Mechanics',
    gunicorn: { refused: PASTE },
    flags: ['--paste', '--paster'],
    metavar: 'STRING',
    file: 'paste',
    nullable: true,
    parser: P.path,
    default: null,
    doc: 'gunicorn\u2019s PasteDeploy config file. Refused: ' + PASTE + '.',
  }),
  rawPasteGlobalConf: many<string>({
    section: 'Server Mechanics',
    gunicorn: { refused: PASTE },
    flags: ['--paste-global'],
    metavar: 'CONF',
    file: 'raw_paste_global_conf',
    parser: P.keyValue,
    default: [],
    doc: 'gunicorn\u2019s PasteDeploy global variables. Refused with --paste.',
  }),
  rootPath: one<string>({
    section: 'Server Mechanics',
    gunicorn: { differs: 'gunicorn sets it in the ASGI scope only; here it mounts the WSGI app, as SCRIPT_NAME does.' },
    flags: ['--root-path'],
    metavar: 'STRING',
    file: 'root_path',
    parser: G.anyText,
    default: '',
    doc:
      'The path prefix the app is mounted under behind a proxy: SCRIPT_NAME, taken off the front of PATH_INFO when ' +
      'the path starts with it (as the SCRIPT_NAME environment variable does, which it overrides).',
  }),
} as const;
