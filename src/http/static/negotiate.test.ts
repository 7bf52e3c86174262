import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptedCodings, notModified, parseRange, rangeStillValid, validatorsOf } from './negotiate';
import { parseStaticMapping, StaticMounts } from './mounts';

test('parseRange: one range, suffixes, open ends, several, unsatisfiable, junk', () => {
  assert.deepEqual(parseRange(undefined, 100), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'part', start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-200', 100), { kind: 'part', start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'part', start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-500', 100), { kind: 'part', start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=50-', 100), { kind: 'part', start: 50, end: 99 });
  assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=0-0', 0), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=0-1,5-6', 100), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=200-300,5-6', 100), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=200-300,400-', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=9-3', 100), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=a-b', 100), { kind: 'whole' });
  assert.deepEqual(parseRange('items=0-1', 100), { kind: 'whole' });
});

test('validators: 304 by ETag first, else by date; If-Range by strong tag or exact date', () => {
  const v = validatorsOf(10, Date.UTC(2024, 0, 1, 0, 0, 0, 500));
  assert.equal(v.lastModified, 'Mon, 01 Jan 2024 00:00:00 GMT');
  assert.ok(notModified(v, v.etag, undefined));
  assert.ok(notModified(v, `"x", W/${v.etag}`, undefined));
  assert.ok(!notModified(v, '"x"', v.lastModified), 'If-None-Match decides alone');
  assert.ok(notModified(v, undefined, v.lastModified));
  assert.ok(!notModified(v, undefined, 'Sun, 31 Dec 2023 23:59:59 GMT'));
  assert.ok(!notModified(v, undefined, 'garbage'));
  assert.ok(rangeStillValid(v, undefined));
  assert.ok(rangeStillValid(v, v.etag));
  assert.ok(!rangeStillValid(v, `W/${v.etag}`));
  assert.ok(rangeStillValid(v, v.lastModified));
  assert.ok(!rangeStillValid(v, 'Sun, 31 Dec 2023 23:59:59 GMT'));
  assert.notEqual(validatorsOf(11, 1000).etag, validatorsOf(10, 1000).etag);
});

test('acceptedCodings: q values, *, and br before gzip', () => {
  const names = (h: string | undefined): string[] => acceptedCodings(h).map((c) => c.coding);
  assert.deepEqual(names(undefined), []);
  assert.deepEqual(names('gzip, deflate, br'), ['br', 'gzip']);
  assert.deepEqual(names('gzip;q=0.5, br;q=0'), ['gzip']);
  assert.deepEqual(names('identity'), []);
  assert.deepEqual(names('*'), ['br', 'gzip']);
  assert.deepEqual(names('*;q=0, gzip'), ['gzip']);
  assert.deepEqual(names('x-gzip'), ['gzip']);
});

test('parseStaticMapping and StaticMounts.locate refuse what could leave the directory', () => {
  assert.deepEqual(parseStaticMapping('/static/=pub'), { prefix: '/static', dir: 'pub' });
  assert.equal(parseStaticMapping('static=pub'), null);
  assert.equal(parseStaticMapping('/static='), null);
  assert.equal(parseStaticMapping('/st%61tic=pub'), null);
  const mounts = new StaticMounts([{ prefix: '/s', dir: '.' }], process.cwd());
  const located = mounts.locate('/s/a/b%20c.txt');
  assert.equal(located.kind, 'candidate');
  assert.ok(located.kind === 'candidate' && located.path.endsWith('/a/b c.txt'));
  for (const bad of ['/s/../x', '/s/%2e%2e/x', '/s/a%2fb', '/s/a%5cb', '/s/a\\b', '/s/a%00', '/s/%zz', '/s/./x']) {
    assert.equal(mounts.locate(bad).kind, 'refused', bad);
  }
  assert.equal(mounts.locate('/sx/a').kind, 'none');
  assert.equal(mounts.locate('/s/.git/config').kind, 'none');
});
