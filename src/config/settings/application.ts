/** The app, the config file, the debugging switches, and --help / --version. */
import { action, flag, many, one } from '../define';
import * as P from '../parsers';
import { UWSGI_APP } from './uwsgi';

export const APPLICATION = {
  app: one<string | null>({
    section: 'Application',
    gunicorn: 'same',
    flags: [],
    aliases: UWSGI_APP,
    positional: true,
    metavar: 'APP_MODULE',
    file: 'wsgi_app',
    nullable: true,
    parser: P.appSpec,
    default: null,
    defaultDoc: 'none (required, here or as wsgi_app in the config file)',
    doc:
      'The WSGI application to serve, as module:callable (module alone means module:application; ' +
      'module:factory(args) calls a factory). Given as the one positional argument or as wsgi_app in the config file.',
  }),
  config: one<string | null>({
    section: 'Config File',
    gunicorn: { differs: 'Without -c, ./nodicorn.conf.py is read when it exists, else ./gunicorn.conf.py; a .json file is also accepted.' },
    flags: ['-c', '--config'],
    metavar: 'CONFIG',
    file: null,
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: "'./nodicorn.conf.py' if it exists, else './gunicorn.conf.py' if it exists, else none",
    doc:
      'The config file to read. A Python file whose module-level names are settings (bind = "0.0.0.0:8000", ' +
      'workers = 4, accesslog = "-") and whose functions named after server hooks (post_fork ...) are hooks, ' +
      'as with gunicorn (also spelled file:PATH); python:package.module for a module on the Python path; or a .json file ' +
      'with the same keys. ' +
      'The file is run by the worker interpreter (--python), so it may compute values. Unknown names are reported as warnings.',
  }),
  reload: flag({
    section: 'Debugging',
    gunicorn: {
      differs:
        'a change that fails to boot (a syntax or import error) is logged with its traceback and the old workers keep serving, where ' +
        'gunicorn\u2019s workers answer every request with the traceback (or gunicorn exits, for an import error); at start, requests get 503 until the fix.',
    },
    flags: ['--reload'],
    file: 'reload',
    default: false,
    doc:
      'Restart the workers when a Python file the workers loaded (or a --reload-extra-file) changes, or a new .py file appears beside them. ' +
      'A new generation of workers boots beside the old ones and takes over once all of it is ready, so no request is dropped; ' +
      'if it fails to boot, the error is logged with its traceback and the old workers keep serving until the next change. For development.',
  }),
  reloadEngine: one<'auto' | 'poll' | 'inotify'>({
    section: 'Debugging',
    gunicorn: 'same',
    flags: ['--reload-engine'],
    metavar: 'STRING',
    file: 'reload_engine',
    parser: P.choice(['auto', 'poll', 'inotify'] as const),
    default: 'auto',
    doc:
      'How --reload notices changes: inotify watches the files\u2019 directories for events (fs.watch); poll checks each file twice a second, ' +
      'for mounted volumes that send no events; auto watches, and polls where a directory cannot be watched.',
  }),
  reloadExtraFiles: many<string>({
    section: 'Debugging',
    gunicorn: 'same',
    flags: ['--reload-extra-file'],
    metavar: 'FILES',
    file: 'reload_extra_files',
    parser: P.path,
    default: [],
    doc:
      'Another file (or glob pattern, * ? [ ] and ** as Python\u2019s glob reads them) whose change restarts the workers under --reload, such as a ' +
      'template or config file; relative to the directory nodicorn starts in, not --chdir. A pattern is expanded again each second, so a file ' +
      'it comes to match is watched from then on. Repeatable.',
  }),
  spew: flag({
    section: 'Debugging',
    gunicorn: { noEffect: 'the workers do not trace their Python lines; use sys.settrace or a debugger in the app.' },
    flags: ['--spew'],
    file: 'spew',
    default: false,
    doc: 'gunicorn\u2019s trace of every Python line the server runs. Accepted for compatibility, with a warning; nothing is traced.',
  }),
  checkConfig: flag({
    section: 'Debugging',
    gunicorn: 'same',
    flags: ['--check-config'],
    file: 'check_config',
    default: false,
    doc:
      'Check the configuration and that the app imports, then exit: 0 when both are fine, 1 with the error when the ' +
      'app does not import, 2 with one line when a setting is wrong.',
  }),
  printConfig: flag({
    section: 'Debugging',
    gunicorn: 'same',
    flags: ['--print-config'],
    file: 'print_config',
    default: false,
    doc: 'Print every setting with its value (name = value, by gunicorn name), check that the app imports, and exit as --check-config does.',
  }),
  help: action({
    section: 'General',
    gunicorn: 'same',
    action: 'help',
    flags: ['-h', '--help'],
    metavar: '',
    doc: 'Show this help and exit.',
  }),
  version: action({
    section: 'General',
    gunicorn: 'same',
    action: 'version',
    flags: ['-v', '--version'],
    metavar: '',
    doc: 'Show the version and exit.',
  }),
} as const;
