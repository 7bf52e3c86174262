import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fstatSync, mkdtempSync, readSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, type SpoolLoan, type SpoolOptions } from './spool';

/** Runs `body` with a fresh temp dir, removed afterwards. */
async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-spool-test-'));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true });
  }
}

/** Reads everything until the spool has nothing left (null). */
function drain(spool: Spool, max = 1000): Promise<Buffer> {
  const out: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const next = (): void =>
      spool.read(max, (err, chunk) => {
        if (err) reject(err);
        else if (chunk === null) resolve(Buffer.concat(out));
        else {
          out.push(chunk);
          next();
        }
      });
    next();
  });
}

function spool(options: Partial<SpoolOptions> & { dir: string | null }): { spool: Spool; spills: () => number } {
  let spills = 0;
  const s = new Spool({ memory: 1000, onSpill: () => spills++, ...options });
  return { spool: s, spills: () => spills };
}

test('within the memory threshold: no file, the same buffers back', () =>
  inTempDir(async (dir) => {
    const { spool: s, spills } = spool({ dir });
    const a = Buffer.from('hello ');
    const b = Buffer.from('world');
    let stored = 0;
    s.append(a, () => stored++);
    s.append(b, () => stored++);
    assert.equal(stored, 2, 'memory bytes are stored at once');
    assert.equal(s.shiftMemory(Infinity), a, 'no copy');
    assert.equal(s.unread, 5);
    assert.equal((await drain(s)).toString(), 'world');
    assert.equal(spills(), 0);
    assert.deepEqual(readdirSync(dir), []);
  }));

test('past the threshold: memory first, then the file, in order; the file has no name', () =>
  inTempDir(async (dir) => {
    const { spool: s, spills } = spool({ dir });
    const data = randomBytes(50_000);
    for (let at = 0; at < data.length; at += 333) s.append(data.subarray(at, at + 333));
    assert.equal(spills(), 1);
    assert.equal(s.total, data.length);
    const got = await drain(s, 4096);
    assert.ok(got.equals(data));
    assert.equal(s.unread, 0);
    assert.deepEqual(readdirSync(dir), []);
    s.destroy();
  }));

test('reads interleaved with appends (a response drained while the app still writes); the file is reused from 0', () =>
  inTempDir(async (dir) => {
    const { spool: s } = spool({ dir, memory: 100 });
    const data = randomBytes(20_000);
    const got: Buffer[] = [];
    for (let at = 0; at < data.length; at += 1000) {
      let stored = false;
      s.append(data.subarray(at, at + 1000), () => (stored = true));
      if (at % 3000 === 0) got.push(await drain(s, 700));
      // File bytes count as held only once written.
      await new Promise<void>((resolve) => (stored ? resolve() : setImmediate(() => resolve())));
    }
    got.push(await drain(s, 700));
    assert.ok(Buffer.concat(got).equals(data));
    s.destroy();
  }));

test('a read waits for a write still in flight', () =>
  inTempDir(async (dir) => {
    const { spool: s } = spool({ dir, memory: 10 });
    s.append(Buffer.alloc(10, 1));
    s.append(Buffer.alloc(5000, 2));
    assert.equal(s.writesPending, true);
    const got = await drain(s, 100_000);
    assert.equal(got.length, 5010);
    assert.equal(got[9], 1);
    assert.equal(got[10], 2);
    s.destroy();
  }));

test('dir null keeps everything in memory, whatever the threshold', async () => {
  const { spool: s, spills } = spool({ dir: null, memory: 10 });
  for (let i = 0; i < 10; i++) s.append(Buffer.alloc(100, i));
  assert.equal(spills(), 0);
  assert.equal(s.unread, 1000);
  const got = await drain(s);
  assert.equal(got.length, 1000);
  assert.equal(got[999], 9);
});

test('destroy() ends a read waiting for a write, and nothing is taken after it', () =>
  inTempDir(async (dir) => {
    const { spool: s } = spool({ dir, memory: 1 });
    s.append(Buffer.alloc(5000));
    const result = new Promise<Buffer | null>((resolve) => s.read(100, (_err, chunk) => resolve(chunk)));
    s.destroy();
    assert.equal(await result, null);
    assert.equal(s.append(Buffer.from('late')), false);
    // The open was still in flight: once it lands, the file is unlinked and closed.
    for (let i = 0; i < 100 && readdirSync(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(readdirSync(dir), []);
  }));

test('a temp dir that cannot be used: onError once, reads fail, the caller is told to stop', async () => {
  const errors: Error[] = [];
  const s = new Spool({ memory: 1, dir: join(tmpdir(), 'nodicorn-no-such-dir', 'x'), onError: (e) => errors.push(e) });
  s.append(Buffer.from('a'));
  s.append(Buffer.from('bcd'));
  await assert.rejects(drain(s), /ENOENT/);
  assert.equal(errors.length, 1);
  assert.equal(s.append(Buffer.from('e')), false);
  s.destroy();
});

test('lend: the file bytes after memory, once written; the descriptor outlives destroy() until given back', () =>
  inTempDir(async (dir) => {
    const { spool: s } = spool({ dir, memory: 10 });
    const data = randomBytes(5000);
    s.append(data.subarray(0, 10));
    s.append(data.subarray(10, 3000));
    s.append(data.subarray(3000));
    assert.equal(s.spilledToFile, true);
    assert.deepEqual(s.shiftMemory(Infinity), data.subarray(0, 10));
    // The writes are still in flight: lend waits for them.
    const loan = await new Promise<SpoolLoan>((resolve, reject) => s.lend((err, l) => (err || !l ? reject(err ?? new Error('no loan')) : resolve(l))));
    assert.equal(loan.offset, 0);
    assert.equal(loan.length, 4990);
    assert.equal(s.unread, 0, 'lent bytes count as read');
    const st = fstatSync(loan.fd, { bigint: true });
    assert.deepEqual([st.dev, st.ino], [loan.dev, loan.ino]);
    const copy = Buffer.alloc(loan.length);
    readSync(loan.fd, copy, 0, loan.length, loan.offset);
    assert.deepEqual(copy, data.subarray(10));
    s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.doesNotThrow(() => fstatSync(loan.fd), 'still open: the borrower may be opening it by its number');
    loan.giveBack();
    await waitFor(() => {
      try {
        fstatSync(loan.fd);
        return false;
      } catch {
        return true;
      }
    });
    assert.throws(() => fstatSync(loan.fd), /EBADF/, 'closed once given back');
  }));

test('lend: an error, not a loan, after destroy()', () =>
  inTempDir(async (dir) => {
    const { spool: s } = spool({ dir, memory: 0 });
    s.append(randomBytes(100));
    s.destroy();
    const err = await new Promise((resolve) => s.lend((e) => resolve(e)));
    assert.ok(err instanceof Error);
  }));

async function waitFor(check: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}
