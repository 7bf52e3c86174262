/** How the server's processes are named in process listings. */
import { one } from '../define';
import * as P from '../parsers';

export const NAMING = {
  name: one<string | null>({
    section: 'Process Naming',
    gunicorn: {
      differs:
        'titles start with "nodicorn:"; a worker without the setproctitle package still gets NAME as its Linux command name (gunicorn leaves it).',
    },
    flags: ['-n', '--name'],
    metavar: 'STRING',
    file: 'proc_name',
    nullable: true,
    parser: P.text,
    default: null,
    doc:
      'The name in the process titles: "nodicorn: master [NAME]" for the Node process, "nodicorn: worker [NAME]" for ' +
      'workers that can import setproctitle (without it, on Linux, the first 15 bytes of NAME become their command ' +
      'name, as top and ps -o comm show). Also the workers\u2019 thread names.',
  }),
  defaultProcName: one<string | null>({
    section: 'Process Naming',
    gunicorn: 'same',
    flags: [],
    metavar: 'STRING',
    file: 'default_proc_name',
    nullable: true,
    parser: P.text,
    default: null,
    defaultDoc: 'none (the app, APP_MODULE, as gunicorn sets it)',
    doc: 'The process name used when --name is not given; gunicorn sets it to APP_MODULE.',
  }),
} as const;
