/** nodicorn's own buffering of request and response bodies between slow clients and the workers. */
import { one } from '../define';
import * as P from '../parsers';

export const BUFFERING = {
  bodyBufferSize: one<number>({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--body-buffer-size'],
    metavar: 'BYTES',
    file: 'body_buffer_size',
    parser: P.positiveInt,
    default: 256 * 1024,
    doc:
      'Request bodies are received whole before the app is called, and responses are taken from the app ' +
      'as fast as it writes them, so a slow client never holds a worker thread. This is how much of one ' +
      'request body, or of one response the client has not read yet, is held in memory; the rest goes to ' +
      'a temp file in --spool-dir.',
  }),
  maxTempFileSize: one<number>({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--max-temp-file-size'],
    metavar: 'BYTES',
    file: 'max_temp_file_size',
    parser: P.nonNegativeInt,
    default: 1024 * 1024 * 1024,
    doc:
      'The most bytes of one response a temp file holds for a client that reads slowly (nginx\u2019s ' +
      'proxy_max_temp_file_size); past it the app waits for the client. 0 keeps responses in memory ' +
      'only (--body-buffer-size, then the app waits). Request bodies are bounded by --limit-request-body.',
  }),
  spoolMemoryLimit: one<number | null>({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--spool-memory-limit'],
    metavar: 'BYTES',
    file: 'spool_memory_limit',
    nullable: true,
    parser: P.positiveInt,
    default: null,
    defaultDoc: 'a quarter of the machine\u2019s memory, at most 256 MiB',
    doc:
      'The most bytes of responses that clients have not read yet held in memory across all connections. ' +
      'Past it a response goes on to its temp file (--spool-disk-limit); with --max-temp-file-size 0, ' +
      'the connections whose clients have gone longest without reading are closed first, each logged ' +
      'with a warning. Request bodies are not counted (--limit-request-body and --body-timeout bound them).',
  }),
  spoolDiskLimit: one<number | null>({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--spool-disk-limit'],
    metavar: 'BYTES',
    file: 'spool_disk_limit',
    nullable: true,
    parser: P.positiveInt,
    default: null,
    defaultDoc: 'a quarter of the free space in --spool-dir at start, at most 16 GiB',
    doc:
      'The most bytes of temp files that responses clients have not read yet take across all ' +
      'connections, so slow or stalled clients cannot fill the disk. Past it, the connections whose ' +
      'clients have gone longest without reading are closed first (their responses aborted, the app ' +
      'told to stop), each logged with a warning. Request bodies are not counted.',
  }),
  spoolDir: one<string | null>({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--spool-dir'],
    metavar: 'DIR',
    file: 'spool_dir',
    nullable: true,
    parser: P.path,
    default: null,
    defaultDoc: 'the system temp directory ($TMPDIR, else /tmp)',
    doc:
      'Where request bodies and responses past --body-buffer-size are spooled. Each temp file is unlinked ' +
      'as soon as it is open and lives only as an open descriptor, so none is ever left behind, even by a crash.',
  }),
  streamRequestPaths: one<string[]>({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--stream-request-paths'],
    metavar: 'PREFIXES',
    file: 'stream_request_paths',
    parser: P.pathPrefixes,
    default: [],
    doc:
      'Comma-separated PATH_INFO prefixes (plain string prefixes: /upload also matches /uploads) whose ' +
      'request bodies stream to the app as they arrive instead of being received whole first, for apps ' +
      'that process uploads as they come. Such a request holds a worker thread for as long as its client ' +
      'takes to send, and the app decides when 100 Continue is sent (when it first reads the body).',
  }),
} as const;
