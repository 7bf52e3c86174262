// --metrics-bind with several front ends (--frontends 2): one endpoint in the master answers for
// the whole server, summing what each front end reports over the IPC channel; parsed with
// prometheus_client as in metrics.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get, metricsServer, parse, until, value } from './lib/metrics.mjs';
import { request } from './lib/http.mjs';

const scrape = async (port) => parse((await get(port, '/metrics')).text());
const requests = (families, method, cls) => value(families, 'nodicorn_http_requests', 'nodicorn_http_requests_total', { method, status_class: cls });
const workers = (families, state) => value(families, 'nodicorn_workers', 'nodicorn_workers', { state });
const frontends = (families, state) => value(families, 'nodicorn_frontends', 'nodicorn_frontends', { state });

test('--frontends 2: /metrics counts every request of both front ends once; a replaced front end keeps its counts; /readyz 503 on TERM', async (t) => {
  const { server, metricsPort } = await metricsServer(t, ['--frontends', '2', '--shutdown-delay', '3']);
  // A new connection per request, until each front end's only worker has answered some.
  const seen = new Set();
  let gets = 0;
  while (gets < 20 || (seen.size < 2 && gets < 300)) {
    const r = await get(server.port, '/pid');
    assert.equal(r.status, 200);
    seen.add(r.text());
    gets++;
  }
  assert.equal(seen.size, 2, `both front ends served (workers ${[...seen]})`);
  for (let i = 0; i < 3; i++) assert.equal((await get(server.port, '/missing')).status, 404);
  for (let i = 0; i < 2; i++) assert.equal((await request(server.port, { method: 'POST', path: '/echo', body: 'abc' })).status, 200);
  const total = gets + 5;

  let families;
  await until(async () => {
    families = await scrape(metricsPort);
    return value(families, 'nodicorn_http_request_duration_seconds', 'nodicorn_http_request_duration_seconds_count') === total;
  }, 10_000);
  assert.equal(requests(families, 'GET', '2xx'), gets);
  assert.equal(requests(families, 'GET', '4xx'), 3);
  assert.equal(requests(families, 'POST', '2xx'), 2);
  const all = families.nodicorn_http_requests.samples.reduce((n, s) => n + s[2], 0);
  assert.equal(all, total, 'no request counted twice or left out');
  assert.equal(value(families, 'nodicorn_http_request_body_bytes', 'nodicorn_http_request_body_bytes_total'), 6);
  assert.equal(value(families, 'nodicorn_http_requests_in_flight', 'nodicorn_http_requests_in_flight'), 0);
  assert.equal(workers(families, 'ready'), 2);
  assert.equal(workers(families, 'booting'), 0);
  for (const pid of seen) assert.ok(value(families, 'nodicorn_worker_resident_memory_bytes', 'nodicorn_worker_resident_memory_bytes', { pid }) > 1024 * 1024);
  assert.equal(frontends(families, 'answered'), 2);
  assert.equal(frontends(families, 'silent'), 0);
  assert.equal(value(families, 'nodicorn_ready', 'nodicorn_ready'), 1);
  // Each Node process on its own series: the master's and each front end's.
  const cpu = families.process_cpu_seconds.samples.map(([, labels]) => labels.process).sort();
  assert.deepEqual(cpu, ['frontend-1', 'frontend-2', 'master']);
  const open = await get(metricsPort, '/metrics', [['Accept', 'application/openmetrics-text; version=1.0.0']]);
  const om = parse(open.text(), 'openmetrics');
  assert.equal(value(om, 'nodicorn_http_requests', 'nodicorn_http_requests_total', { method: 'GET', status_class: '2xx' }), gets);
  assert.equal(om.process_start_time_seconds.samples.length, 3);

  // A front end killed is replaced; its counts stay in the sums (a counter never goes back).
  const frontendPid = Number(/Front end 1 of 2 \(pid: (\d+)\)/.exec(server.stderrLines.join('\n'))?.[1]);
  assert.ok(frontendPid > 0, 'front end 1 announced its pid');
  process.kill(frontendPid, 'SIGKILL');
  await server.waitStderr(/Front end 1 \(pid: \d+\) exited/, 10_000);
  await until(async () => {
    families = await scrape(metricsPort);
    return frontends(families, 'answered') === 2 && workers(families, 'ready') === 2;
  }, 30_000);
  assert.equal((await get(metricsPort, '/readyz')).status, 200);
  assert.equal(requests(families, 'GET', '2xx'), gets, 'the killed front end\u2019s requests are still counted');
  assert.equal(value(families, 'nodicorn_http_request_duration_seconds', 'nodicorn_http_request_duration_seconds_count'), total);

  const sent = Date.now();
  server.proc.kill('SIGTERM');
  await server.waitStderr(/Shutdown delay/, 5_000);
  assert.equal((await get(metricsPort, '/readyz')).status, 503);
  assert.equal((await get(metricsPort, '/healthz')).status, 200);
  assert.equal((await get(server.port, '/ok')).status, 200, 'the front ends still answer through --shutdown-delay');
  assert.ok(Date.now() - sent < 2_500, 'all of that within the delay');
  const exit = await server.stop('SIGTERM', 20_000);
  assert.equal(exit.code, 0, server.stderrText());
});
