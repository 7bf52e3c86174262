/** How the server's processes are named in process listings. */
import { one } from '../define';
import * as P from '../parsers';

export const NAMING = {
  name: one<string | null>({
    section: 'Process Naming',
    gunicorn: 'same',
    flags: ['-n', '--name'],
    metavar: 'STRING',
    file: 'proc_name',
    nullable: true,
    parser: P.text,
    default: null,
    doc: 'A name for the server\u2019s processes, shown in process listings and worker thread names.',
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
