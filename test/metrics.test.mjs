// --metrics-bind: /metrics parsed with prometheus_client's own parsers (Prometheus text and
// OpenMetrics), /healthz and /readyz, readiness through a --shutdown-delay, and the listener
// absent unless asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { APPS } from './lib/paths.mjs';
import { runCli, serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';
import { bootedPids } from './lib/process.mjs';
import { get, metricsServer, parse, until, value } from './lib/metrics.mjs';

test('/metrics counts known requests (a 404 and a 500 among them), parsed by prometheus_client', async (t) => {
  const { server, metricsPort } = await metricsServer(t);
  for (let i = 0; i < 3; i++) assert.equal((await get(server.port, '/ok')).status, 200);
  assert.equal((await get(server.port, '/missing')).status, 404);
  assert.equal((await get(server.port, '/boom')).status, 500);
  const posted = await request(server.port, { method: 'POST', path: '/echo', headers: [['Content-Type', 'text/plain']], body: 'abcdef' });
  assert.equal(posted.text(), 'abcdef');

  let families;
  await until(async () => {
    families = parse((await get(metricsPort, '/metrics')).text());
    return value(families, 'nodicorn_http_request_duration_seconds', 'nodicorn_http_request_duration_seconds_count') === 6;
  }, 10_000);
  const requests = (method, cls) => value(families, 'nodicorn_http_requests', 'nodicorn_http_requests_total', { method, status_class: cls });
  assert.equal(requests('GET', '2xx'), 3);
  assert.equal(requests('GET', '4xx'), 1);
  assert.equal(requests('GET', '5xx'), 1);
  assert.equal(requests('POST', '2xx'), 1);
  assert.equal(requests('PUT', '2xx'), 0);
  assert.equal(families.nodicorn_http_request_duration_seconds.type, 'histogram');
  assert.equal(value(families, 'nodicorn_http_request_duration_seconds', 'nodicorn_http_request_duration_seconds_bucket', { le: '+Inf' }), 6);
  assert.equal(value(families, 'nodicorn_http_request_body_bytes', 'nodicorn_http_request_body_bytes_total'), 6);
  // "hello" three times, the echo, and the 500's text body.
  assert.ok(value(families, 'nodicorn_http_response_body_bytes', 'nodicorn_http_response_body_bytes_total') >= 3 * 5 + 6);
  assert.equal(value(families, 'nodicorn_http_requests_in_flight', 'nodicorn_http_requests_in_flight'), 0);
  assert.equal(value(families, 'nodicorn_queue_depth', 'nodicorn_queue_depth'), 0);
  assert.equal(value(families, 'nodicorn_queue_rejections', 'nodicorn_queue_rejections_total'), 0);
  assert.equal(value(families, 'nodicorn_workers', 'nodicorn_workers', { state: 'ready' }), 2);
  assert.equal(value(families, 'nodicorn_workers', 'nodicorn_workers', { state: 'booting' }), 0);
  for (const pid of bootedPids(server)) {
    const rss = value(families, 'nodicorn_worker_resident_memory_bytes', 'nodicorn_worker_resident_memory_bytes', { pid: String(pid) });
    assert.ok(rss > 1024 * 1024 && rss < 2 ** 32, `worker ${pid} RSS ${rss}`);
  }
  assert.equal(value(families, 'nodicorn_worker_restarts', 'nodicorn_worker_restarts_total', { reason: 'crash' }), 0);
  assert.ok(value(families, 'process_resident_memory_bytes', 'process_resident_memory_bytes') > 1024 * 1024);
  assert.ok(value(families, 'process_cpu_seconds', 'process_cpu_seconds_total') > 0);
  assert.equal(value(families, 'nodicorn_ready', 'nodicorn_ready'), 1);

  // OpenMetrics when the scraper asks for it, as Prometheus does.
  const open = await get(metricsPort, '/metrics', [['Accept', 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5']]);
  assert.match(open.get('content-type'), /^application\/openmetrics-text; version=1\.0\.0/);
  assert.match(open.text(), /# EOF\n$/);
  const om = parse(open.text(), 'openmetrics');
  assert.equal(value(om, 'nodicorn_http_requests', 'nodicorn_http_requests_total', { method: 'GET', status_class: '2xx' }), 3);
  assert.match((await get(metricsPort, '/metrics')).get('content-type'), /^text\/plain; version=0\.0\.4/);

  // The app's listener never serves them: /metrics there is the app's (an empty echo).
  const onApp = await get(server.port, '/metrics');
  assert.equal(onApp.status, 200);
  assert.doesNotMatch(onApp.text(), /nodicorn_/);
  assert.equal((await get(metricsPort, '/healthz')).status, 200);
  assert.equal((await get(metricsPort, '/readyz')).status, 200);
  assert.equal((await get(metricsPort, '/other')).status, 404);
});

test('worker restarts are counted by reason: max-requests, crash', async (t) => {
  const { server, metricsPort } = await metricsServer(t, ['--max-requests', '2']);
  for (let i = 0; i < 6; i++) assert.equal((await get(server.port, '/ok')).status, 200);
  let families;
  await until(async () => {
    families = parse((await get(metricsPort, '/metrics')).text());
    return value(families, 'nodicorn_worker_restarts', 'nodicorn_worker_restarts_total', { reason: 'max-requests' }) >= 2;
  }, 15_000);
  // A worker killed from outside is a crash (one that is ready: one killed while booting stops the server).
  await until(async () => {
    families = parse((await get(metricsPort, '/metrics')).text());
    const state = (s) => value(families, 'nodicorn_workers', 'nodicorn_workers', { state: s });
    return state('ready') === 2 && state('booting') === 0 && state('retiring') === 0;
  }, 15_000);
  const victim = Number(families.nodicorn_worker_resident_memory_bytes.samples[0][1].pid);
  process.kill(victim, 'SIGKILL');
  await until(async () => {
    families = parse((await get(metricsPort, '/metrics')).text());
    return value(families, 'nodicorn_worker_restarts', 'nodicorn_worker_restarts_total', { reason: 'crash' }) === 1;
  }, 15_000);
  assert.equal(value(families, 'nodicorn_worker_restarts', 'nodicorn_worker_restarts_total', { reason: 'timeout' }), 0);
});

test('worker restarts are counted by reason: timeout, reload (HUP)', async (t) => {
  const { server, metricsPort } = await metricsServer(t, ['--timeout', '1']);
  const restarts = async (reason) => value(parse((await get(metricsPort, '/metrics')).text()), 'nodicorn_worker_restarts', 'nodicorn_worker_restarts_total', { reason });
  assert.equal((await get(server.port, '/sleep')).status, 504);
  await until(async () => (await restarts('timeout')) === 1, 15_000);
  assert.equal(await restarts('crash'), 0, 'a worker killed for --timeout is not a crash');
  await until(async () => (await get(metricsPort, '/readyz')).status === 200, 15_000);
  server.proc.kill('SIGHUP');
  // Both workers of the pool are replaced by the new generation.
  await until(async () => (await restarts('reload')) === 2, 20_000);
});

test('--shutdown-delay: /readyz turns 503 at once on SIGTERM while /healthz stays 200 and the app still answers', async (t) => {
  const { server, metricsPort } = await metricsServer(t, ['--shutdown-delay', '3']);
  assert.equal((await get(metricsPort, '/readyz')).status, 200);
  const sent = Date.now();
  server.proc.kill('SIGTERM');
  await server.waitStderr(/Shutdown delay/, 5_000);
  assert.equal((await get(metricsPort, '/readyz')).status, 503);
  assert.equal((await get(metricsPort, '/healthz')).status, 200);
  const during = await get(server.port, '/ok');
  assert.equal(during.status, 200);
  assert.equal(during.get('connection'), 'close');
  assert.ok(Date.now() - sent < 2_500, 'all of that within the delay');
  const exit = await server.stop('SIGTERM', 20_000);
  assert.equal(exit.code, 0, server.stderrText());
});

test('no metrics listener unless --metrics-bind; one equal to a --bind address is refused', async (t) => {
  const server = await serverFor(t, ['metrics_app:app', '--chdir', APPS, '-w', '1'], { waitWorkers: 1 });
  assert.equal((await get(server.port, '/ok')).status, 200);
  assert.doesNotMatch(server.stderrText(), /Metrics at/);
  // The port the app is on is the only one it listens on.
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  await new Promise((resolve) => probe.close(resolve));
  const r = await runCli(['metrics_app:app', '--chdir', APPS, '--bind', `127.0.0.1:${port}`, '--metrics-bind', `127.0.0.1:${port}`]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--metrics-bind: expected an address that is not one of --bind's/);
});
