import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { createLogger, safeStringify, type LogFormat, type LogLevel } from './logger';
import { formatLogTime } from './time';

process.env.TZ = 'UTC';

function tempFile(name = 'error.log'): string {
  return join(mkdtempSync(join(tmpdir(), 'nodicorn-log-')), name);
}

async function logLines(level: LogLevel, format: LogFormat, write: (log: ReturnType<typeof createLogger>) => void): Promise<string[]> {
  const file = tempFile();
  const log = createLogger({ errorLogfile: file, logLevel: level, logFormat: format });
  write(log);
  await log.close();
  return readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

test('text lines look like gunicorn\u2019s: [time] [pid] [LEVEL] message', async () => {
  const lines = await logLines('debug', 'text', (log) => {
    log.info('Listening at: http://127.0.0.1:8000');
    log.warning('from a worker', { pid: 4242 });
    log.error('with fields', { worker: 3, path: '/a b' });
  });
  assert.equal(lines.length, 3);
  assert.match(lines[0] as string, new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\+0000\\] \\[${process.pid}\\] \\[INFO\\] Listening at: http://127\\.0\\.0\\.1:8000$`));
  assert.match(lines[1] as string, /\] \[4242\] \[WARNING\] from a worker$/);
  assert.match(lines[2] as string, /\] \[ERROR\] with fields worker=3 path="\/a b"$/);
});

test('the time is local with its UTC offset', () => {
  assert.equal(formatLogTime(Date.UTC(2026, 10, 25, 4, 34, 10, 500)), '2026-11-25 04:34:10 +0000');
});

test('log levels filter: only messages at or above the level are written', async () => {
  const all = (log: ReturnType<typeof createLogger>): void => {
    log.debug('d');
    log.info('i');
    log.warning('w');
    log.error('e');
    log.critical('c');
  };
  const levelsOf = (lines: string[]): string[] => lines.map((l) => /\[(\w+)\] \w$/.exec(l)?.[1] ?? '?');
  assert.deepEqual(levelsOf(await logLines('debug', 'text', all)), ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL']);
  assert.deepEqual(levelsOf(await logLines('info', 'text', all)), ['INFO', 'WARNING', 'ERROR', 'CRITICAL']);
  assert.deepEqual(levelsOf(await logLines('warning', 'text', all)), ['WARNING', 'ERROR', 'CRITICAL']);
  assert.deepEqual(levelsOf(await logLines('error', 'text', all)), ['ERROR', 'CRITICAL']);
  assert.deepEqual(levelsOf(await logLines('critical', 'text', all)), ['CRITICAL']);
  const log = createLogger({ errorLogfile: tempFile(), logLevel: 'warning', logFormat: 'text' });
  assert.equal(log.isEnabled('info'), false);
  assert.equal(log.isEnabled('error'), true);
  await log.close();
});

test('JSON lines: one object per line, escaped correctly, fields kept, core keys protected', async () => {
  const nasty = 'quote " backslash \\ newline \n tab \t nul \u0000 bell \u0007 del \u007f unicode \u00e9\u4e2d\ud83d\ude00 lone \ud800 sep \u2028';
  const lines = await logLines('info', 'json', (log) => {
    log.info(nasty, { pid: 77, path: '/x', level: 'spoofed', message: 'spoofed', nested: { a: [1, 'b'] }, err: new Error('boom'), big: 10n });
    log.debug('hidden');
  });
  assert.equal(lines.length, 1, 'a message with newlines stays on one line');
  const record = JSON.parse(lines[0] as string) as Record<string, unknown>;
  assert.equal(record.message, nasty);
  assert.equal(record.level, 'info');
  assert.equal(record.pid, 77);
  assert.equal(record.path, '/x');
  assert.deepEqual(record.nested, { a: [1, 'b'] });
  assert.equal((record.err as { message: string }).message, 'boom');
  assert.equal(record.big, '10');
  assert.match(record.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(Object.keys(record).slice(0, 4), ['time', 'level', 'pid', 'message']);
  assert.ok(lines[0]?.includes('\\ud800'), 'a lone surrogate is escaped, not mangled');
  assert.ok(!/[\u0000-\u001f]/.test(lines[0] as string), 'no raw control characters');
});

test('safeStringify copes with cycles', () => {
  const a: Record<string, unknown> = { x: 1 };
  a.self = a;
  assert.equal(safeStringify(a), '{"x":1,"self":"[Circular]"}');
});

test('a log file is appended to, and created when missing', async () => {
  const file = tempFile('new.log');
  for (const word of ['first', 'second']) {
    const log = createLogger({ errorLogfile: file, logLevel: 'info', logFormat: 'text' });
    log.info(word);
    await log.close();
  }
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[1] as string, /second$/);
});

test('an unopenable log file is a ConfigError naming the flag', () => {
  assert.throws(
    () => createLogger({ errorLogfile: join(tempFile(), 'no', 'such', 'dir.log'), logLevel: 'info', logFormat: 'text' }),
    (err: unknown) => err instanceof ConfigError && /^--error-logfile: cannot open ".*" for appending \(ENOENT\)$/.test(err.message),
  );
});

test('lines written right before process.exit() are not lost (file and stderr)', () => {
  const file = tempFile();
  const script = `
    const { createLogger } = require(${JSON.stringify(join(__dirname, 'logger.js'))});
    const toFile = createLogger({ errorLogfile: ${JSON.stringify(file)}, logLevel: 'info', logFormat: 'text' });
    const toStderr = createLogger({ errorLogfile: '-', logLevel: 'info', logFormat: 'json' });
    for (let i = 0; i < 1000; i++) { toFile.info('line ' + i); toStderr.info('line ' + i); }
    process.exit(3);
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 3);
  assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 1000);
  const err = r.stderr.trim().split('\n');
  assert.equal(err.length, 1000);
  assert.equal((JSON.parse(err[999] as string) as { message: string }).message, 'line 999');
});
