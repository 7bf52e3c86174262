// Scraping --metrics-bind in the black-box tests: /metrics parsed with prometheus_client's own
// parsers (Prometheus text and OpenMetrics), a sample's value, polling until a scrape says so.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { APPS, PYTHON } from './paths.mjs';
import { serverFor } from './server.mjs';
import { request } from './http.mjs';
import { sleep } from './wait.mjs';

const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families as prometheus
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
parse = openmetrics if sys.argv[1] == 'openmetrics' else prometheus
out = {}
for family in parse(sys.stdin.read()):
    out[family.name] = {'type': family.type, 'samples': [[s.name, s.labels, s.value] for s in family.samples]}
print(json.dumps(out))
`;

/** The families prometheus_client's parser reads from `text` (it throws on a malformed exposition). */
export function parse(text, format = 'prometheus') {
  const r = spawnSync(PYTHON ?? 'python3', ['-c', PARSE, format], { input: text, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `prometheus_client refused the exposition:\n${r.stderr}\n${text}`);
  return JSON.parse(r.stdout);
}

/** The value of the sample `name` whose labels include `labels`. */
export function value(families, family, name, labels = {}) {
  const f = families[family];
  assert.ok(f, `no family ${family}`);
  const s = f.samples.find(([n, l]) => n === name && Object.entries(labels).every(([k, v]) => l[k] === v));
  assert.ok(s, `no sample ${name} ${JSON.stringify(labels)} in ${JSON.stringify(f.samples)}`);
  return s[2];
}

/** Polls the async `check` until it is true; fails the test past `ms`. */
export async function until(check, ms) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true within ${ms} ms: ${check}`);
    await sleep(100);
  }
}

export function get(port, path, headers = []) {
  return request(port, { path, headers });
}

/** metrics_app with -w 2 and --metrics-bind on a free port, once /readyz says ready; `extra` adds arguments. */
export async function metricsServer(t, extra = []) {
  const server = await serverFor(t, ['metrics_app:app', '--chdir', APPS, '-w', '2', '--metrics-bind', '127.0.0.1:0', ...extra], { waitWorkers: 2 });
  const m = await server.waitStderr(/Metrics at: http:\/\/127\.0\.0\.1:(\d+)\/metrics/, 10_000);
  const metricsPort = Number(m[1]);
  // Ready once every worker booted.
  await until(async () => (await get(metricsPort, '/readyz')).status === 200, 20_000);
  return { server, metricsPort };
}
