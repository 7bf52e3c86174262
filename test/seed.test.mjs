// The seed tutorial's examples run unchanged, under every app spec form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { APPS, EXAMPLES, ROOT } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';

const HELLO = 'Hello my friend!';

test('hello app: module:app spec with --chdir examples, exact body', async (t) => {
  const server = await serverFor(t, ['web_application:application', '--chdir', EXAMPLES]);
  const res = await request(server.port, { path: '/' });
  assert.equal(res.status, 200);
  assert.equal(res.body.toString('utf8'), HELLO);
  assert.match(res.get('content-type'), /^text\/plain/i);
  // A one-element list gets a computed Content-Length or chunked framing; either way exact bytes.
  assert.equal(res.complete, true);
});

test('hello app: bare module spec defaults to `application`', async (t) => {
  const server = await serverFor(t, ['web_application', '--chdir', EXAMPLES]);
  const res = await request(server.port, { path: '/anything?x=1' });
  assert.equal(res.status, 200);
  assert.equal(res.text(), HELLO);
});

test('hello app: path/to/file.py spec form', async (t) => {
  const server = await serverFor(t, ['examples/web_application.py'], { cwd: ROOT });
  const res = await request(server.port, { path: '/' });
  assert.equal(res.status, 200);
  assert.equal(res.text(), HELLO);
});

test('hello app: --pythonpath instead of --chdir', async (t) => {
  const server = await serverFor(t, ['web_application:application', '--pythonpath', EXAMPLES]);
  assert.equal((await request(server.port, { path: '/' })).text(), HELLO);
});

test('ulysses app streams the first 30 lines of ulysses.txt', async (t) => {
  const server = await serverFor(t, ['ulysses:application', '--chdir', EXAMPLES]);
  const res = await request(server.port, { path: '/' });
  assert.equal(res.status, 200);
  const text = readFileSync(path.join(EXAMPLES, 'ulysses.txt'), 'utf8');
  const first30 = text.split('\n').slice(0, 30).map((l) => `${l}\n`).join('');
  assert.equal(res.body.toString('utf8'), first30);
  assert.equal(res.body.toString('utf8').split('\n').length - 1, 30);
});

test('a file that calls make_server().serve_forever() at import still serves', async (t) => {
  const server = await serverFor(t, [path.join(APPS, 'seed_unguarded.py')]);
  const res = await request(server.port, { path: '/' });
  assert.equal(res.status, 200);
  assert.equal(res.text(), HELLO);
});

test('module:factory() and module:factory(literal) spec forms', async (t) => {
  const a = await serverFor(t, ['hello_app:create()', '--chdir', APPS]);
  assert.equal((await request(a.port, { path: '/' })).text(), 'made by a factory');
  const b = await serverFor(t, ["hello_app:create('custom greeting')", '--chdir', APPS]);
  assert.equal((await request(b.port, { path: '/' })).text(), 'custom greeting');
});
