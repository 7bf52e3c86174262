// The environ a WSGI app sees (PEP 3333), through the validated echo app.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPS } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { RawClient } from './lib/raw-client.mjs';
import { buildRequest, request } from './lib/http.mjs';

async function echo(port, opts) {
  const res = await request(port, opts);
  assert.equal(res.get('x-wsgi-validate'), undefined, `wsgiref.validate failed: ${res.text()}`);
  assert.equal(res.status, 200, res.text());
  return res.json();
}

test('environ basics', async (t) => {
  const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, '-e', 'NODICORN_TEST_FOO=bar baz']);
  const host = `127.0.0.1:${server.port}`;

  await t.test('CGI keys, wsgi.* values, -e reaches the worker', async () => {
    const doc = await echo(server.port, { path: '/a/b?x=1&y=2', host });
    const env = doc.environ;
    assert.equal(env.REQUEST_METHOD, 'GET');
    assert.equal(env.SCRIPT_NAME ?? '', '');
    assert.equal(env.PATH_INFO, '/a/b');
    assert.equal(env.QUERY_STRING, 'x=1&y=2');
    assert.equal(env.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.equal(env.HTTP_HOST, host);
    assert.equal(doc.wsgi.url_scheme, 'http');
    assert.deepEqual(doc.wsgi.version, [1, 0]);
    assert.equal(doc.wsgi.run_once, false);
    assert.equal(doc.wsgi.file_wrapper, true, 'wsgi.file_wrapper is offered');
    assert.equal(doc.osenv.NODICORN_TEST_FOO, 'bar baz');
  });

  await t.test('REMOTE_ADDR/PORT are the client socket, SERVER_NAME/PORT the listener', async () => {
    const client = await RawClient.connect(server.port);
    try {
      await client.write(buildRequest({ path: '/', host }));
      const res = await client.readResponse();
      const env = res.json().environ;
      assert.equal(env.REMOTE_ADDR, '127.0.0.1');
      assert.equal(env.REMOTE_PORT, String(client.socket.localPort));
      assert.equal(env.SERVER_NAME, '127.0.0.1');
      assert.equal(env.SERVER_PORT, String(server.port));
    } finally {
      client.close();
    }
  });

  await t.test('PATH_INFO is percent-decoded to bytes shown as latin-1; QUERY_STRING stays raw', async () => {
    const doc = await echo(server.port, { path: '/caf%C3%A9/%41%20b/%e2%82%ac?q=%C3%A9+x&k=%20', host });
    // UTF-8 bytes C3 A9 -> the two latin-1 characters U+00C3 U+00A9 (PEP 3333), never 'é'.
    assert.equal(doc.environ.PATH_INFO, '/caf\u00c3\u00a9/A b/\u00e2\u0082\u00ac');
    assert.equal(doc.environ.QUERY_STRING, 'q=%C3%A9+x&k=%20');
  });

  await t.test('fragment goes nowhere, // runs are kept, empty query is ""', async () => {
    const doc = await echo(server.port, { path: '//double//slash', host });
    assert.equal(doc.environ.PATH_INFO, '//double//slash');
    assert.equal(doc.environ.QUERY_STRING, '');
  });

  await t.test('CONTENT_TYPE and CONTENT_LENGTH have no HTTP_ prefix', async () => {
    const doc = await echo(server.port, {
      method: 'POST', path: '/form', host, body: 'hello',
      headers: [['Content-Type', 'text/plain; charset=utf-8']],
    });
    assert.equal(doc.environ.CONTENT_TYPE, 'text/plain; charset=utf-8');
    assert.equal(doc.environ.CONTENT_LENGTH, '5');
    assert.equal(doc.environ.HTTP_CONTENT_TYPE, undefined);
    assert.equal(doc.environ.HTTP_CONTENT_LENGTH, undefined);
    assert.equal(Buffer.from(doc.body_b64, 'base64').toString(), 'hello');
  });

  await t.test('duplicate headers are joined with a comma, in order', async () => {
    const doc = await echo(server.port, {
      path: '/', host,
      headers: [['X-Dup', 'one'], ['X-Other', 'o'], ['x-dup', 'two'], ['X-DUP', ' three ']],
    });
    assert.deepEqual(doc.environ.HTTP_X_DUP.split(',').map((s) => s.trim()), ['one', 'two', 'three']);
    assert.equal(doc.environ.HTTP_X_OTHER, 'o');
  });

  await t.test('header names with "_" never reach environ (or the request is refused)', async () => {
    const res = await request(server.port, {
      method: 'POST', path: '/', host, body: 'abc',
      headers: [['X_Under', 'sneaky'], ['Content_Length', '1000'], ['X-Fine', 'yes']],
    });
    if (res.status === 400) return;
    assert.equal(res.status, 200);
    const doc = res.json();
    assert.equal(doc.environ.HTTP_X_UNDER, undefined);
    assert.equal(doc.environ.HTTP_CONTENT_LENGTH, undefined);
    assert.equal(doc.environ.CONTENT_LENGTH, '3');
    assert.equal(doc.environ.HTTP_X_FINE, 'yes');
  });

  await t.test('header values lose surrounding whitespace and keep obs-text as latin-1', async () => {
    const doc = await echo(server.port, { path: '/', host, headers: [['X-Spaces', '  padded\t '], ['X-Latin', 'caf\xe9']] });
    assert.equal(doc.environ.HTTP_X_SPACES, 'padded');
    assert.equal(doc.environ.HTTP_X_LATIN, 'caf\u00e9');
  });

  await t.test('HTTP/1.0 request: SERVER_PROTOCOL HTTP/1.0', async () => {
    const doc = await echo(server.port, { path: '/', version: '1.0', host });
    assert.equal(doc.environ.SERVER_PROTOCOL, 'HTTP/1.0');
  });

  await t.test('method case and unusual methods are passed through', async () => {
    const doc = await echo(server.port, { method: 'PATCH', path: '/m', host, body: 'x' });
    assert.equal(doc.environ.REQUEST_METHOD, 'PATCH');
  });

  await t.test('no validation failures were logged', () => {
    assert.deepEqual(server.validationFailures(), []);
  });
});

test('non-ASCII path echo: body is the percent-decoded bytes', async (t) => {
  const server = await serverFor(t, ['nonascii_app:app', '--chdir', APPS]);
  const res = await request(server.port, { path: '/%E6%97%A5%E6%9C%AC/%C3%A9t%C3%A9' });
  assert.equal(res.status, 200);
  assert.equal(res.body.toString('utf8'), '/日本/été');
  assert.equal(res.get('x-path-repr'), "'/\\xe6\\x97\\xa5\\xe6\\x9c\\xac/\\xc3\\xa9t\\xc3\\xa9'");
  // Invalid UTF-8 is fine too: bytes are bytes.
  const raw = await request(server.port, { path: '/%FF%00%80' });
  assert.equal(raw.status, 200);
  assert.deepEqual([...raw.body], [0x2f, 0xff, 0x00, 0x80]);
});

for (const [flags, multithread, multiprocess] of [
  [['-w', '1', '--threads', '1'], false, false],
  [['-w', '2', '--threads', '1'], false, true],
  [['-w', '1', '--threads', '4'], true, false],
  [['-w', '2', '--threads', '3'], true, true],
]) {
  test(`wsgi.multithread=${multithread} wsgi.multiprocess=${multiprocess} with ${flags.join(' ')}`, async (t) => {
    const server = await serverFor(t, ['echo_app:app', '--chdir', APPS, ...flags]);
    const doc = await echo(server.port, { path: '/' });
    assert.equal(doc.wsgi.multithread, multithread);
    assert.equal(doc.wsgi.multiprocess, multiprocess);
  });
}
