// Debuggable timeouts: a worker past --timeout has its Python stacks logged under the request
// it holds before it is killed; SIGURG to the master logs every worker's stacks, killing nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { sleep, waitUntil } from './lib/wait.mjs';

/** The lines from the dump header on, joined. */
function dumpAfter(lines, header) {
  const at = lines.findIndex((l) => header.test(l));
  return at < 0 ? '' : lines.slice(at).join('\n');
}

for (const capture of [false, true]) {
  test(`a hung request's stack is logged before the 504 (${capture ? 'with' : 'without'} --capture-output)`, async (t) => {
    const args = ['hang_app:app', '--chdir', APPS, '-w', '1', '--timeout', '2'];
    if (capture) args.push('--capture-output');
    const server = await serverFor(t, args, { waitWorkers: 1 });
    const pid = Number((await request(server.port, { path: '/' })).get('x-worker-pid'));
    const res = await request(server.port, { path: '/hang?x=1' }, { timeout: 15_000 });
    assert.equal(res.status, 504);
    // Logged before the kill, so before the 504 was sent.
    const header = new RegExp(`WORKER TIMEOUT: stacks of worker ${pid} \\(running GET /hang\\?x=1\\)`);
    const dump = dumpAfter(server.stderrLines, header);
    assert.ok(dump, `no dump header in the error log:\n${server.stderrLines.join('\n')}`);
    assert.match(dump, /File ".*hang_app\.py", line \d+ in hang/, dump);
    assert.match(dump, /(Current thread|Thread) 0x[0-9a-f]+/, dump);
  });
}

test('with --threads 2, the thread running the hung request is dumped first, then the others', async (t) => {
  const server = await serverFor(t, ['hang_app:app', '--chdir', APPS, '-w', '1', '--threads', '2', '--timeout', '2'], { waitWorkers: 1 });
  const pid = Number((await request(server.port, { path: '/' })).get('x-worker-pid'));
  const res = await request(server.port, { path: '/hang' }, { timeout: 15_000 });
  assert.equal(res.status, 504);
  const dump = dumpAfter(server.stderrLines, new RegExp(`WORKER TIMEOUT: stacks of worker ${pid} \\(running GET /hang\\)`));
  assert.match(dump, /hang_app\.py", line \d+ in hang/, dump);
  // The thread running the late request first, before the idle app thread and the pipe reader.
  const firstThread = dump.split('\n').slice(1).join('\n').split(/\n\n/)[0];
  assert.match(firstThread, /hang_app\.py", line \d+ in hang/, dump);
  // The main thread (reading the pipe) and two app threads.
  assert.ok((dump.match(/^(Current thread|Thread) 0x/gm) ?? []).length >= 3, dump);
});

test('SIGURG logs a live worker\'s stack; its request still completes', async (t) => {
  const server = await serverFor(t, ['slow_app:app', '--chdir', APPS, '-w', '1', '--timeout', '30'], { waitWorkers: 1 });
  const pid = Number((await request(server.port, { path: '/?s=0' })).get('x-worker-pid'));
  const slow = request(server.port, { path: '/?s=3' }, { timeout: 20_000 });
  await sleep(800);
  server.proc.kill('SIGURG');
  const header = new RegExp(`Stack dump: stacks of worker ${pid} \\(running GET /\\?s=3\\)`);
  await waitUntil(() => /slow_app\.py", line \d+ in slow/.test(dumpAfter(server.stderrLines, header)), 10_000);
  const res = await slow;
  assert.equal(res.status, 200);
  assert.equal(res.text(), 'slept 3.0');
  assert.equal(Number(res.get('x-worker-pid')), pid, 'the same worker answered');
});
