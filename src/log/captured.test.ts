import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logCaptured } from './captured';
import { EXCEPTION, createLogger, type LogLevel } from './logger';

test('worker lines: a severity mark sets the level and passes --log-level; others take the stream level', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'nodicorn-captured-')), 'error.log');
  const observed: string[] = [];
  const mirrored: string[] = [];
  const log = createLogger({
    errorLogfile: file,
    logLevel: 'warning',
    logFormat: 'text',
    observe: (level, exception) => observed.push(exception ? 'exception' : level),
    mirror: (level: LogLevel, message, pid) => mirrored.push(`${level} ${pid} ${message}`),
  });
  logCaptured(log, 'warning', '<3>an error', 77);
  logCaptured(log, 'warning', '<6>info the app chose to log', 77);
  logCaptured(log, 'info', 'plain stdout, below the level', 77);
  logCaptured(log, 'warning', 'plain stderr', 77);
  logCaptured(log, 'warning', '<9>not a mark', 77);
  log.error('the server\u2019s own');
  log.error('with a traceback', { pid: 78, [EXCEPTION]: true });
  log.info('below the level');
  await log.close();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => l.replace(/^\[[^\]]+\] /, ''));
  assert.deepEqual(lines, [
    '[77] [ERROR] an error',
    '[77] [INFO] info the app chose to log',
    '[77] [WARNING] plain stderr',
    '[77] [WARNING] <9>not a mark',
    `[${process.pid}] [ERROR] the server\u2019s own`,
    '[78] [ERROR] with a traceback',
  ]);
  // Only the server's own lines are counted (every level) and mirrored (past --log-level).
  assert.deepEqual(observed, ['error', 'exception', 'info']);
  assert.deepEqual(mirrored, [`error ${process.pid} the server\u2019s own`, 'error 78 with a traceback']);
});
