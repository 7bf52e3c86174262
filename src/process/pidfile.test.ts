import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pidfile } from './pidfile';
import { canReusePort } from './master';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'nodicorn-pidfile-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('writes the pid, 0644, and removes only a file that still names it', (t) => {
  const path = join(dir(t), 'a.pid');
  const file = Pidfile.create(path, 4242);
  assert.equal(readFileSync(path, 'utf8'), '4242\n');
  assert.equal(statSync(path).mode & 0o777, 0o644);
  writeFileSync(path, '777\n');
  assert.equal(file.remove(), null);
  assert.equal(readFileSync(path, 'utf8'), '777\n', 'another process took the file: left alone');
  writeFileSync(path, '4242\n');
  assert.equal(file.remove(), null);
  assert.equal(existsSync(path), false);
  assert.equal(file.remove(), null, 'already gone is fine');
});

test('refuses a file naming a live process; takes over a stale or garbled one', (t) => {
  const d = dir(t);
  const live = join(d, 'live.pid');
  writeFileSync(live, `${process.pid}\n`);
  assert.throws(() => Pidfile.create(live, process.pid + 1), new RegExp(`--pid: already running on PID ${process.pid}`));
  const stale = join(d, 'stale.pid');
  writeFileSync(stale, '2147483646\n');
  Pidfile.create(stale, 99);
  assert.equal(readFileSync(stale, 'utf8'), '99\n');
  const garbled = join(d, 'garbled.pid');
  writeFileSync(garbled, 'not a pid');
  Pidfile.create(garbled, 98);
  assert.equal(readFileSync(garbled, 'utf8'), '98\n');
});

test('a missing directory is one error naming --pid', (t) => {
  assert.throws(() => Pidfile.create(join(dir(t), 'no', 'such', 'x.pid'), 1), /^NodicornError: --pid: cannot write '.*x\.pid' \(ENOENT\)$/);
});

test('moveTo: the old name goes, the new one names the process', (t) => {
  const d = dir(t);
  const moved = Pidfile.create(join(d, 'app.pid.2'), 4343).moveTo(join(d, 'app.pid'));
  assert.equal(existsSync(join(d, 'app.pid.2')), false);
  assert.equal(readFileSync(moved.path, 'utf8'), '4343\n');
});

test('SO_REUSEPORT from Node 22.12 and 23.1', () => {
  assert.deepEqual(['20.20.2', '22.11.0', '22.12.0', '23.0.0', '23.1.0', '24.0.0'].map((v) => canReusePort(v)), [false, false, true, false, true, true]);
});
