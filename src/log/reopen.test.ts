import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineSink } from './sink';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'nodicorn-reopen-'));
}

test('reopen after a rename: what was pending goes to the old file, later lines to the new one', async () => {
  const dir = tempDir();
  const file = join(dir, 'access.log');
  const sink = new LineSink(file, { std: 'stdout', batch: true, label: '--access-logfile' });
  sink.write('one\n');
  renameSync(file, `${file}.1`);
  sink.write('two\n'); // still batched: written before the old file is let go
  assert.equal(sink.reopen(), null);
  sink.write('three\n');
  await sink.close();
  assert.equal(readFileSync(`${file}.1`, 'utf8'), 'one\ntwo\n');
  assert.equal(readFileSync(file, 'utf8'), 'three\n');
});

test('reopen that cannot open the path keeps writing to the file it has, and says why', async () => {
  const dir = tempDir();
  const file = join(dir, 'error.log');
  const sink = new LineSink(file, { std: 'stderr', batch: false, label: '--error-logfile' });
  rmSync(dir, { recursive: true });
  const err = sink.reopen();
  assert.equal((err as NodeJS.ErrnoException | null)?.code, 'ENOENT');
  sink.write('still here\n'); // to the unlinked file: no throw
  await sink.close();
});

test('reopen on "-" (a standard stream) does nothing', () => {
  const sink = new LineSink('-', { std: 'stdout', batch: false, label: '--access-logfile' });
  assert.equal(sink.reopen(), null);
});
