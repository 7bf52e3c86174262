// The error log (stderr): gunicorn-like lifecycle lines, and an app's print()/stderr output
// captured line by line and tagged with the worker pid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS, request, serverFor, sleep } from './helpers.mjs';

test('lifecycle lines look like gunicorn', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-w', '2'], { waitWorkers: 2 });
  const listening = server.stderrLines.find((l) => l.includes('Listening at:'));
  assert.match(listening, new RegExp(`^\\[[^\\]]+\\] \\[${server.pid}\\] \\[INFO\\] Listening at: http://127\\.0\\.0\\.1:${server.port} \\(${server.pid}\\)$`));
  const booting = server.stderrLines.filter((l) => /Booting worker with pid: \d+$/.test(l));
  assert.equal(booting.length, 2);
  for (const line of booting) assert.match(line, /^\[[^\]]+\] \[\d+\] \[INFO\] Booting worker with pid: \d+$/);
  assert.equal((await request(server.port, { path: '/' })).status, 200);
});

test('print(), sys.stderr and wsgi.errors lines reach the error log with the worker pid', async (t) => {
  const server = await serverFor(t, ['printing_app:app', '--chdir', APPS, '--capture-output']);
  const tag = `tag${process.pid}x${Date.now()}`;
  const res = await request(server.port, { path: `/?tag=${tag}` });
  assert.equal(res.status, 200);
  assert.equal(res.text(), `printed ${tag}`);
  const pid = res.get('x-worker-pid');
  assert.ok(pid);
  for (const kind of ['PRINT-STDOUT', 'PRINT-STDERR', 'PRINT-WSGI-ERRORS']) {
    const m = await server.waitStderr(new RegExp(`${kind} ${tag}`), 5_000);
    const line = m.input;
    assert.ok(line.includes(pid), `"${line}" should carry the worker pid ${pid}`);
  }
  await sleep(100);
  assert.ok(!server.stdoutLines.some((l) => l.includes(tag)), 'app output must not go to stdout (the access log stream)');
  assert.equal(server.stderrLines.filter((l) => l.includes(`PRINT-STDOUT ${tag}`)).length, 1, 'each line exactly once');
});
