// The logs of a server with several front ends (--frontends 2): the master is the one writer of
// each file, so access lines longer than a pipe's atomic write, from both front ends under load,
// arrive whole and one per request; USR1 reopens the files for every front end's lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS } from './lib/paths.mjs';
import { serverLoggingTo } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { sleep, waitUntil } from './lib/wait.mjs';
import { countedLoad } from './lib/counted-load.mjs';
import { answered, frontendPid, frontendsOf, split, withFrontends, workersOf } from './lib/frontends.mjs';

const skip = process.platform !== 'linux' && 'reads the process tree from /proc and sends POSIX signals';
const readOr = (file) => { try { return readFileSync(file, 'utf8'); } catch { return ''; } };

function tempDir(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-frontends-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the access log with 2 front ends under load, request lines over 5 KB: every line whole, one per answered request', { skip }, async (t) => {
  const access = path.join(tempDir(t), 'access.log');
  // Longer than PIPE_BUF (4096): a front end's write of one line to its pipe may arrive in pieces.
  const target = `/${'x'.repeat(6_000)}?long=1`;
  const server = await withFrontends(t, 2, 2, ['--access-logfile', access, '--limit-request-line', '0']);
  const counts = new Map();
  const result = await countedLoad({
    port: server.port, clients: 12, ms: 3_000, target, expect: answered,
    seen: (res) => counts.set(frontendPid(res), (counts.get(frontendPid(res)) ?? 0) + 1),
  });
  t.diagnostic(`${result.ok} answers; per front end ${split(counts)}`);
  assert.deepEqual(result.failures, []);
  assert.equal(counts.size, 2, 'both front ends served');
  // The files are flushed and closed by the time the master exits.
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
  const text = readFileSync(access, 'utf8');
  assert.ok(text.endsWith('\n'), 'the file ends with a whole line');
  const lines = text.slice(0, -1).split('\n');
  // gunicorn's default format: h l u t "r" s b "f" "a".
  const line = new RegExp(`^127\\.0\\.0\\.1 - - \\[[^\\]\\n]+\\] "GET ${target.replace(/[?]/g, '\\?')} HTTP/1\\.1" 200 \\d+ "-" "-"$`);
  const torn = lines.filter((l) => !line.test(l));
  assert.deepEqual(torn.map((l) => `${l.length} bytes: ${l.slice(0, 80)}…${l.slice(-40)}`), [], 'lines that are not one whole access line');
  assert.equal(lines.length, result.ok, 'one line per answered request');
});

test('USR1 with 2 front ends: after a rotation, the lines of both front ends go to the new files', { skip }, async (t) => {
  const dir = tempDir(t);
  const access = path.join(dir, 'access.log');
  const errors = path.join(dir, 'error.log');
  // %(p)s is the worker's pid: which front end wrote a line is told by its worker.
  const server = await serverLoggingTo(t, ['frontend_app:app', '--chdir', APPS, '-w', '2', '--frontends', '2', '--access-logfile', access, '--access-logformat', '%(r)s %(s)s %(p)s'], errors);
  assert.ok(await waitUntil(() => frontendsOf(server.pid).length === 2 && workersOf(server.pid).length === 2, 15_000), readOr(errors));
  const frontends = frontendsOf(server.pid).map((f) => f.pid);
  assert.equal((await request(server.port, { path: '/before' })).status, 200);
  assert.ok(await waitUntil(() => readOr(access).includes('/before'), 5_000));

  renameSync(access, `${access}.1`);
  renameSync(errors, `${errors}.1`);
  process.kill(server.pid, 'SIGUSR1');
  assert.ok(await waitUntil(() => readOr(errors).includes('reopened the log files'), 5_000), 'the error log was opened again at its path');

  // Lines from both front ends: a HUP makes each boot a worker, and requests reach both.
  process.kill(server.pid, 'SIGHUP');
  const booted = (pid) => new RegExp(`\\[${pid}\\] \\[INFO\\] Booting worker with pid: (\\d+)`);
  assert.ok(await waitUntil(() => frontends.every((pid) => booted(pid).test(readOr(errors))), 15_000), `both front ends' lines in the new error log:\n${readOr(errors)}`);
  const newWorkers = new Map(frontends.map((pid) => [Number(booted(pid).exec(readOr(errors))[1]), pid]));
  const served = new Set();
  for (let i = 0; i < 200 && served.size < 2; i++) {
    const res = await request(server.port, { path: `/after-${i}` });
    if (res.status === 200 && newWorkers.has(Number(res.get('x-worker-pid')))) served.add(frontendPid(res));
    else await sleep(20);
  }
  assert.equal(served.size, 2, 'the new workers of both front ends answered');
  const accessLines = await waitUntil(() => {
    const lines = readOr(access).split('\n').filter(Boolean);
    const pids = new Set(lines.map((l) => Number(/<(\d+)>$/.exec(l)?.[1])));
    return [...newWorkers.keys()].every((pid) => pids.has(pid)) ? lines : null;
  }, 5_000);
  assert.ok(accessLines, `access lines of both front ends' workers in the new file:\n${readOr(access)}`);
  assert.ok(accessLines.every((l) => /^GET \/after-\d+ HTTP\/1\.1 200 <\d+>$/.test(l)), `only lines after the rotation:\n${accessLines.join('\n')}`);
  assert.doesNotMatch(readOr(`${access}.1`), /\/after/, 'nothing more went to the rotated access log');
  for (const pid of frontends) assert.doesNotMatch(readOr(`${errors}.1`), new RegExp(`\\[${pid}\\] [^\\n]*Booting worker with pid: ${[...newWorkers].find(([, f]) => f === pid)[0]}`), 'no line of the HUP in the rotated error log');
  server.proc.kill('SIGTERM');
  assert.deepEqual(await server.exited, { code: 0, signal: null });
  assert.match(readOr(errors), /Shutting down: Master/, 'the master wrote to the new file to the end');
});
