// --max-requests: workers are recycled after N requests without failing any request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';

for (const extra of [[], ['--max-requests-jitter', '3']]) {
  test(`--max-requests 5 ${extra.join(' ')}: 30 sequential requests all 200, workers recycled`, async (t) => {
    const server = await serverFor(t, ['hello_app:app', '--chdir', APPS, '-w', '1', '--max-requests', '5', ...extra], { waitWorkers: 1 });
    const pids = new Set();
    for (let i = 0; i < 30; i++) {
      const res = await request(server.port, { path: `/?i=${i}` }, { timeout: 15_000 });
      assert.equal(res.status, 200, `request ${i}: ${res.status} ${res.text()}`);
      assert.equal(res.text(), 'hello');
      pids.add(res.get('x-worker-pid'));
    }
    assert.ok(pids.size > 1, `only worker ${[...pids]} served 30 requests`);
    // Without jitter a worker serves at most 5; with jitter 3, at most 8.
    assert.ok(pids.size >= (extra.length ? 4 : 6), `${pids.size} workers for 30 requests`);
  });
}
