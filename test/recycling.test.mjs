// --workers-max-rss and --workers-lifetime: a worker over its memory limit or past its lifetime
// is replaced as --max-requests replaces one, while a keep-alive load runs: every answer 200.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APPS } from './lib/paths.mjs';
import { serverFor, runCli } from './lib/server.mjs';
import { keepAliveLoad } from './lib/load.mjs';

const RESTART = /Autorestarting worker (\d+) after (.*)/;

function restarts(server) {
  return server.stderrLines.map((l) => RESTART.exec(l)).filter(Boolean);
}

/** The restarts /metrics counts for `reason` (the listener --metrics-bind 127.0.0.1:0 logged). */
async function countedRestarts(server, reason) {
  const [, port] = await server.waitStderr(/Metrics at: http:\/\/127\.0\.0\.1:(\d+)\/metrics/, 10_000);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^nodicorn_worker_restarts(?:_total)?\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text);
  assert.ok(m, `no restarts counter for ${reason}:\n${text}`);
  return Number(m[1]);
}

function assertNoneLost(load, server) {
  const log = `\n${server.stderrLines.slice(-30).join('\n')}`;
  assert.ok(load.answers.length > 20, `only ${load.answers.length} answers${log}`);
  const bad = load.answers.filter((a) => a.status !== 200);
  assert.deepEqual(bad.map((a) => a.status), [], `every answer 200${log}`);
  assert.equal(load.dropped, 0, `no request dropped${log}`);
  assert.equal(load.timeouts, 0, `no request left unanswered${log}`);
  assert.equal(load.refused, 0, `no connect refused${log}`);
}

test('--workers-max-rss 80: a growing worker is replaced past 80 MiB; a keep-alive load loses nothing', async (t) => {
  const server = await serverFor(t, ['grow_app:app', '--chdir', APPS, '-w', '1', '--workers-max-rss', '80', '--metrics-bind', '127.0.0.1:0'], { waitWorkers: 1 });
  // 2 clients on one sync worker: about 20 requests a second, 2 MiB each, so past 80 MiB within
  // a few seconds and never more than a second's growth (~40 MiB) beyond it before the check.
  const start = Date.now();
  const load = await keepAliveLoad({ port: server.port, clients: 2, target: '/?mb=2&s=0.05', until: start + 30_000, stopAfter: start + 9_000 });
  assertNoneLost(load, server);
  const seen = restarts(server);
  assert.ok(seen.length >= 1, `no worker replaced:\n${server.stderrText()}`);
  for (const [line, , why] of seen) {
    const m = /rss reached ([\d.]+) MiB \(--workers-max-rss 80\)/.exec(why);
    assert.ok(m, `the line names rss and the limit: ${line}`);
    assert.ok(Number(m[1]) > 80, line);
    assert.match(line, /reason=rss/);
  }
  // A last tick may recycle one more between the log read and the scrape.
  assert.ok((await countedRestarts(server, 'rss')) >= seen.length, '/metrics counts each');
  // Each replaced worker was followed by a new one.
  const booted = server.stderrLines.filter((l) => /Booting worker with pid/.test(l)).length;
  assert.ok(booted >= seen.length + 1, `${booted} workers booted for ${seen.length} restarts`);
  const exit = await server.stop();
  assert.equal(exit.code, 0, server.stderrText());
});

test('--workers-lifetime 2 with jitter: workers replaced after about 2 s; a keep-alive load loses nothing', async (t) => {
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-w', '2', '--workers-lifetime', '2', '--workers-lifetime-jitter', '0.5', '--metrics-bind', '127.0.0.1:0'], { waitWorkers: 2 });
  const start = Date.now();
  const load = await keepAliveLoad({ port: server.port, clients: 4, target: '/', until: start + 30_000, stopAfter: start + 7_000 });
  assertNoneLost(load, server);
  const seen = restarts(server);
  // Two workers living 2 to 2.5 s (plus up to a second for the check) over 7 s: both replaced at least once.
  assert.ok(seen.length >= 2, `${seen.length} restarts:\n${server.stderrText()}`);
  for (const [line, , why] of seen) {
    const m = /^([\d.]+) s \(--workers-lifetime 2 s\)/.exec(why);
    assert.ok(m, `the line names the lifetime: ${line}`);
    assert.ok(Number(m[1]) >= 2, `not before its lifetime: ${line}`);
    assert.match(line, /reason=lifetime/);
  }
  // More may come between the log read and the scrape.
  assert.ok((await countedRestarts(server, 'lifetime')) >= seen.length, '/metrics counts each');
  assert.ok(new Set(seen.map((m) => m[1])).size >= 2, 'more than one worker replaced');
  const exit = await server.stop();
  assert.equal(exit.code, 0, server.stderrText());
});

for (const [flag, value, expected] of [
  ['--workers-max-rss', '-1', /--workers-max-rss\b.*non-negative integer/],
  ['--workers-max-rss', '1.5', /--workers-max-rss\b/],
  ['--workers-lifetime', 'soon', /--workers-lifetime\b.*seconds/],
  ['--workers-lifetime-jitter', '-2', /--workers-lifetime-jitter\b.*seconds/],
]) {
  test(`${flag} ${value}: one line naming the flag, exit 2`, async () => {
    const r = await runCli(['hello_app:app', '--chdir', APPS, '--bind', '127.0.0.1:0', flag, value], { timeout: 15_000 });
    assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
    const lines = r.stderr.trim().split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], expected);
  });
}

test('HUP with workers_lifetime set in the config file: the workers from then on are recycled by age', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodicorn-lifetime-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = path.join(dir, 'conf.py');
  writeFileSync(conf, 'workers = 1\n');
  const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-c', conf], { waitWorkers: 1 });
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  assert.equal(restarts(server).length, 0, 'no lifetime before the HUP');
  writeFileSync(conf, 'workers = 1\nworkers_lifetime = 1\n');
  server.proc.kill('SIGHUP');
  const m = await server.waitStderr(/Autorestarting worker \d+ after [\d.]+ s \(--workers-lifetime 1 s\)/, 20_000);
  assert.match(m.input, /reason=lifetime/);
  const exit = await server.stop();
  assert.equal(exit.code, 0, server.stderrText());
});
