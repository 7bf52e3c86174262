import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { NEW_SPACE_CAP_BYTES, capRefusal } from './young-generation';

/**
 * A child Node that allocates the way a busy server does (many short-lived objects, some of them
 * still live at each scavenge) and prints the largest new space it saw, with or without the cap.
 */
function largestNewSpace(nodeArgs: string[], cap: boolean): number {
  const script = `
    const v8 = require('node:v8');
    const stop = ${cap} ? require(${JSON.stringify(require.resolve('./young-generation'))}).capYoungGeneration() : null;
    if (${cap} && stop === null) throw new Error('the cap was refused');
    const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    let live = [];
    let largest = 0;
    let round = 0;
    (function work() {
      for (let i = 0; i < 20000; i++) {
        live.push({ i, s: 'x' + i });
        if (live.length > 60000) live = live.slice(30000);
      }
      largest = Math.max(largest, newSpace());
      if (++round < 400) setImmediate(work);
      else process.stdout.write(String(largest));
    })();`;
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const out = spawnSync(process.execPath, [...nodeArgs, '-e', script], { encoding: 'utf8', env, timeout: 60_000 });
  assert.equal(out.status, 0, out.stderr);
  return Number(out.stdout);
}

test('without the cap the same load grows the new space past it; with it, the new space stops exactly at it', () => {
  // The control gets V8's 16 MiB semi-space explicitly, as a machine with less memory would not.
  assert.ok(largestNewSpace(['--max-semi-space-size=16'], false) > NEW_SPACE_CAP_BYTES);
  assert.equal(largestNewSpace([], true), NEW_SPACE_CAP_BYTES);
});

test('a young generation sized by the user, or an unchecked Node major, is left alone', () => {
  assert.equal(capRefusal([], undefined, '20.19.0'), null);
  assert.equal(capRefusal(['--inspect'], '--max-old-space-size=512', '20.19.0'), null);
  assert.match(capRefusal(['--max-semi-space-size=32'], undefined, '20.19.0') ?? '', /Node option/);
  assert.match(capRefusal([], '--max_semi_space_size=4', '20.19.0') ?? '', /Node option/);
  assert.match(capRefusal([], '--semi-space-growth-factor=4', '20.19.0') ?? '', /Node option/);
  assert.match(capRefusal([], undefined, '22.3.0') ?? '', /not one of the checked majors/);
});
